import { onBeforeUnmount, onMounted, ref, type Ref } from 'vue'

/**
 * The height that makes `element` end at the bottom of the window (with the page scrolled to the top), never
 * less than `minHeight`: a log viewport of a fixed share of the window starts below the page's headers, so
 * its end — where a followed live log shows its newest lines — fell below the fold of a 900 px window.
 * Measured again when the window or the page above it changes size.
 */
export function useFitToWindow(
  element: Readonly<Ref<HTMLElement | null>>,
  { minHeight, margin }: { minHeight: number; margin: number },
): Readonly<Ref<number | undefined>> {
  const height = ref<number | undefined>()

  function fit(): void {
    const target = element.value
    if (!target || typeof window === 'undefined') return
    const top = target.getBoundingClientRect().top + window.scrollY
    height.value = Math.max(minHeight, Math.floor(window.innerHeight - top - margin))
  }

  let observer: ResizeObserver | undefined
  onMounted(() => {
    fit()
    window.addEventListener('resize', fit)
    // The page above the element settles after it mounted (a pipeline's header, a run's facts load later).
    if (typeof ResizeObserver !== 'undefined') {
      observer = new ResizeObserver(fit)
      observer.observe(document.body)
    }
  })
  onBeforeUnmount(() => {
    window.removeEventListener('resize', fit)
    observer?.disconnect()
  })
  return height
}
