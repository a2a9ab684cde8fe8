import { onBeforeUnmount, onMounted } from 'vue'
import { useRouter } from 'vue-router'

/**
 * Lets plain `<a href data-spa-link>` elements navigate inside the app like RouterLinks do: a
 * plain left click goes through the router; a click with a modifier key (new tab, new window)
 * or another button stays the browser's. One listener on the document serves every such link.
 */
export function useSpaLinks(): void {
  const router = useRouter()

  function onClick(event: MouseEvent): void {
    if (
      event.defaultPrevented ||
      event.button !== 0 ||
      event.metaKey ||
      event.ctrlKey ||
      event.shiftKey ||
      event.altKey
    ) {
      return
    }
    const link = (event.target as Element | null)?.closest?.('a[data-spa-link]')
    if (!(link instanceof HTMLAnchorElement) || (link.target && link.target !== '_self')) return
    event.preventDefault()
    void router.push(link.getAttribute('href') ?? '/')
  }

  onMounted(() => document.addEventListener('click', onClick))
  onBeforeUnmount(() => document.removeEventListener('click', onClick))
}
