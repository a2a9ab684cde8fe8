import { render } from '@testing-library/vue'
import { afterEach, describe, expect, it } from 'vitest'
import { defineComponent, h, nextTick, ref } from 'vue'

import { useFitToWindow } from './useFitToWindow'

const originalHeight = window.innerHeight

function setWindowHeight(height: number): void {
  Object.defineProperty(window, 'innerHeight', { configurable: true, value: height })
}

/** A box `top` pixels down the page (jsdom does no layout: the position is given). */
const Box = defineComponent({
  props: { top: { type: Number, required: true } },
  setup(props) {
    const element = ref<HTMLElement | null>(null)
    const height = useFitToWindow(element, { minHeight: 256, margin: 16 })
    return () =>
      h('div', {
        ref: (el) => {
          const box = el as HTMLElement | null
          if (box) box.getBoundingClientRect = () => ({ top: props.top }) as DOMRect
          element.value = box
        },
        'data-testid': 'box',
        'data-height': height.value,
      })
  },
})

afterEach(() => setWindowHeight(originalHeight))

describe('useFitToWindow', () => {
  it('makes the element end at the bottom of the window, and follows the window when it is resized', async () => {
    // given a 900 px window and a box 420 px down the page
    setWindowHeight(900)
    const { getByTestId } = render(Box, { props: { top: 420 } })
    await nextTick()
    // then it is as tall as what is left, less the margin
    expect(getByTestId('box').dataset.height).toBe(String(900 - 420 - 16))
    // when the window grows
    setWindowHeight(1200)
    window.dispatchEvent(new Event('resize'))
    await nextTick()
    // then so does the box
    expect(getByTestId('box').dataset.height).toBe(String(1200 - 420 - 16))
  })

  it('never makes it shorter than the minimum', async () => {
    setWindowHeight(500)
    const { getByTestId } = render(Box, { props: { top: 420 } })
    await nextTick()
    expect(getByTestId('box').dataset.height).toBe('256')
  })
})
