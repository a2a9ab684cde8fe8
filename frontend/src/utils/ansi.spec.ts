import { describe, expect, it } from 'vitest'

import { parseAnsi, stripAnsi } from './ansi'

const ESC = '\x1b'

describe('parseAnsi', () => {
  it('returns plain text as one unstyled span', () => {
    expect(parseAnsi('hello world')).toEqual([{ text: 'hello world', className: '', style: '' }])
  })

  it('colours text with the 16 terminal colours and resets', () => {
    // when
    const spans = parseAnsi(`${ESC}[31mred${ESC}[0m plain ${ESC}[1;92mbold bright green${ESC}[39m bold`)
    // then
    expect(spans).toEqual([
      { text: 'red', className: 'ansi-fg-1', style: '' },
      { text: ' plain ', className: '', style: '' },
      { text: 'bold bright green', className: 'ansi-fg-10 ansi-bold', style: '' },
      { text: ' bold', className: 'ansi-bold', style: '' },
    ])
  })

  it('treats an empty SGR sequence as a reset', () => {
    expect(parseAnsi(`${ESC}[4munder${ESC}[mnot`)).toEqual([
      { text: 'under', className: 'ansi-underline', style: '' },
      { text: 'not', className: '', style: '' },
    ])
  })

  it('supports 256-colour and true-colour codes as inline colours', () => {
    // when
    const spans = parseAnsi(`${ESC}[38;5;196mA${ESC}[48;2;10;20;30mB${ESC}[38;5;4mC`)
    // then
    expect(spans[0]).toEqual({ text: 'A', className: '', style: 'color:rgb(255,0,0)' })
    expect(spans[1]).toEqual({ text: 'B', className: '', style: 'color:rgb(255,0,0);background-color:rgb(10,20,30)' })
    expect(spans[2]).toEqual({ text: 'C', className: 'ansi-fg-4', style: 'background-color:rgb(10,20,30)' })
  })

  it('drops cursor movement, window titles and other control characters', () => {
    expect(stripAnsi(`${ESC}[2K${ESC}[1Gstep ${ESC}]0;title${ESC}\\done\x07\b`)).toBe('step done')
  })

  it('shows what a terminal would after carriage returns (progress bars)', () => {
    expect(stripAnsi('10%\r50%\r100%\r')).toBe('100%')
  })

  it('keeps markup as text: escaping is the renderer’s job and nothing is interpreted', () => {
    expect(stripAnsi('<script>alert(1)</script>')).toBe('<script>alert(1)</script>')
  })

  it('ignores malformed colour codes without throwing', () => {
    expect(stripAnsi(`${ESC}[38;5mx${ESC}[38;2;1mY${ESC}[`)).toBe('xY[')
  })
})
