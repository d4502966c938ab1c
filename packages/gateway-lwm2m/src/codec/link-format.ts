/** One link of a CoRE link-format document (RFC 6690): its target and attributes (quotes removed). */
export interface Link {
  target: string
  attributes: Record<string, string>
}

/** Splits on a separator outside double quotes. */
function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = []
  let quoted = false
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    if (char === '"') quoted = !quoted
    else if (char === separator && !quoted) {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  parts.push(text.slice(start))
  return parts.map((part) => part.trim()).filter((part) => part !== '')
}

export class LinkFormatError extends Error {}

/** The links of a link-format payload, each as written (for Discover responses). */
export function splitLinks(text: string): string[] {
  return splitOutsideQuotes(text, ',')
}

export function parseLinks(text: string): Link[] {
  return splitLinks(text).map((raw) => {
    const [target = '', ...params] = splitOutsideQuotes(raw, ';')
    const match = /^<([^>]*)>$/.exec(target)
    if (!match) throw new LinkFormatError(`not a link: ${raw}`)
    const attributes: Record<string, string> = {}
    for (const param of params) {
      const equals = param.indexOf('=')
      if (equals < 0) attributes[param] = ''
      else attributes[param.slice(0, equals)] = param.slice(equals + 1).replace(/^"(.*)"$/, '$1')
    }
    return { target: match[1] as string, attributes }
  })
}
