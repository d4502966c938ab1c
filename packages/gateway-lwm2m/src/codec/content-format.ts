/** CoAP Content-Format numbers LwM2M 1.0 uses (§6.4). */
export const ContentFormat = {
  text: 0,
  linkFormat: 40,
  opaque: 42,
  tlv: 11542,
  json: 11543,
} as const

const BY_NAME: Record<string, number> = {
  'text/plain': ContentFormat.text,
  'application/link-format': ContentFormat.linkFormat,
  'application/octet-stream': ContentFormat.opaque,
  'application/vnd.oma.lwm2m+tlv': ContentFormat.tlv,
  'application/vnd.oma.lwm2m+json': ContentFormat.json,
}

/** The number of a Content-Format option as the coap library hands it over (a name it knows, or a number); text when absent. */
export function contentFormatNumber(header: unknown): number {
  if (typeof header === 'number') return header
  if (typeof header === 'string') return BY_NAME[header.split(';')[0] as string] ?? -1
  return ContentFormat.text
}

/** The names commands may give for `format` / `accept`. */
export const FORMAT_NAMES: Record<string, number> = {
  text: ContentFormat.text,
  opaque: ContentFormat.opaque,
  tlv: ContentFormat.tlv,
  json: ContentFormat.json,
}
