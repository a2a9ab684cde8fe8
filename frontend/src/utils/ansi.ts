// A small parser for ANSI SGR escape sequences (colours, bold, …) in log lines. It returns plain
// text spans with CSS classes/styles; the caller renders them as text, so nothing in a log line is
// ever interpreted as HTML. Other escape sequences (cursor moves, window titles) are dropped.

export interface AnsiSpan {
  text: string
  /** Space-separated classes from main.css: ansi-fg-0…15, ansi-bg-0…15, ansi-bold, … */
  className: string
  /** Inline colours for 256-colour and true-colour codes, e.g. "color:rgb(1,2,3)". */
  style: string
}

interface SgrState {
  fg?: number | string
  bg?: number | string
  bold: boolean
  dim: boolean
  italic: boolean
  underline: boolean
  inverse: boolean
  strike: boolean
}

const freshState = (): SgrState => ({
  bold: false,
  dim: false,
  italic: false,
  underline: false,
  inverse: false,
  strike: false,
})

// CSI (ESC [ params final), OSC (ESC ] … BEL or ESC \), and any other two-byte escape.
const ESCAPE = /\x1b\[([0-9;:?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?/g
// C0 control characters other than tab: a terminal would not print them.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g

function cubeLevel(n: number): number {
  return n === 0 ? 0 : 55 + n * 40
}

/** The RGB colour of an xterm 256-colour index from 16 to 255. */
export function xterm256(index: number): string {
  if (index >= 232) {
    const level = 8 + (index - 232) * 10
    return `rgb(${level},${level},${level})`
  }
  const cube = index - 16
  return `rgb(${cubeLevel(Math.floor(cube / 36))},${cubeLevel(Math.floor(cube / 6) % 6)},${cubeLevel(cube % 6)})`
}

/** Reads an extended colour (38/48 ;5;n or ;2;r;g;b) starting after the 38/48; returns it and the codes used. */
function extendedColour(codes: number[], at: number): [number | string | undefined, number] {
  const mode = codes[at]
  if (mode === 5) {
    const index = codes[at + 1]
    if (index === undefined || index < 0 || index > 255) return [undefined, 2]
    return [index < 16 ? index : xterm256(index), 2]
  }
  if (mode === 2) {
    const [r, g, b] = codes.slice(at + 1, at + 4)
    if ([r, g, b].some((v) => v === undefined || v < 0 || v > 255)) return [undefined, 4]
    return [`rgb(${r},${g},${b})`, 4]
  }
  return [undefined, 1]
}

function applySgr(state: SgrState, params: string): SgrState {
  const codes = params === '' ? [0] : params.split(/[;:]/).map((p) => (p === '' ? 0 : Number(p)))
  let next = { ...state }
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i]!
    if (code === 0) next = freshState()
    else if (code === 1) next.bold = true
    else if (code === 2) next.dim = true
    else if (code === 3) next.italic = true
    else if (code === 4) next.underline = true
    else if (code === 7) next.inverse = true
    else if (code === 9) next.strike = true
    else if (code === 22) next.bold = next.dim = false
    else if (code === 23) next.italic = false
    else if (code === 24) next.underline = false
    else if (code === 27) next.inverse = false
    else if (code === 29) next.strike = false
    else if (code >= 30 && code <= 37) next.fg = code - 30
    else if (code === 39) next.fg = undefined
    else if (code >= 40 && code <= 47) next.bg = code - 40
    else if (code === 49) next.bg = undefined
    else if (code >= 90 && code <= 97) next.fg = code - 90 + 8
    else if (code >= 100 && code <= 107) next.bg = code - 100 + 8
    else if (code === 38 || code === 48) {
      const [colour, used] = extendedColour(codes, i + 1)
      if (code === 38) next.fg = colour
      else next.bg = colour
      i += used
    }
  }
  return next
}

function describe(state: SgrState): Pick<AnsiSpan, 'className' | 'style'> {
  const classes: string[] = []
  const styles: string[] = []
  const fg = state.inverse ? (state.bg ?? 'inverse-fg') : state.fg
  const bg = state.inverse ? (state.fg ?? 'inverse-bg') : state.bg
  if (typeof fg === 'number') classes.push(`ansi-fg-${fg}`)
  else if (fg === 'inverse-fg') classes.push('ansi-inverse-fg')
  else if (fg) styles.push(`color:${fg}`)
  if (typeof bg === 'number') classes.push(`ansi-bg-${bg}`)
  else if (bg === 'inverse-bg') classes.push('ansi-inverse-bg')
  else if (bg) styles.push(`background-color:${bg}`)
  if (state.bold) classes.push('ansi-bold')
  if (state.dim) classes.push('ansi-dim')
  if (state.italic) classes.push('ansi-italic')
  if (state.underline) classes.push('ansi-underline')
  if (state.strike) classes.push('ansi-strike')
  return { className: classes.join(' '), style: styles.join(';') }
}

/** What a terminal would show of a line that rewrites itself with carriage returns (progress bars). */
function lastCarriageReturnSegment(text: string): string {
  const trimmed = text.replace(/\r+$/, '')
  const at = trimmed.lastIndexOf('\r')
  return at === -1 ? trimmed : trimmed.slice(at + 1)
}

/** Splits one log line into styled spans. Adjacent text with the same style is one span. */
export function parseAnsi(line: string): AnsiSpan[] {
  const text = lastCarriageReturnSegment(line)
  const spans: AnsiSpan[] = []
  let state = freshState()
  let last = 0
  const push = (chunk: string) => {
    const clean = chunk.replace(CONTROL, '')
    if (clean === '') return
    const look = describe(state)
    const previous = spans[spans.length - 1]
    if (previous && previous.className === look.className && previous.style === look.style) previous.text += clean
    else spans.push({ text: clean, ...look })
  }
  ESCAPE.lastIndex = 0
  for (let match = ESCAPE.exec(text); match !== null; match = ESCAPE.exec(text)) {
    push(text.slice(last, match.index))
    last = match.index + match[0].length
    if (match[2] === 'm') state = applySgr(state, match[1] ?? '')
  }
  push(text.slice(last))
  return spans
}

/** The text without any escape sequences (for copying and searching). */
export function stripAnsi(line: string): string {
  return parseAnsi(line)
    .map((span) => span.text)
    .join('')
}

const parsedLines = new WeakMap<object, AnsiSpan[]>()

/** parseAnsi, remembered per line object: a log line scrolls in and out of view many times. */
export function parseAnsiOnce(line: { text?: string | null }): AnsiSpan[] {
  let spans = parsedLines.get(line)
  if (!spans) {
    spans = parseAnsi(line.text ?? '')
    parsedLines.set(line, spans)
  }
  return spans
}
