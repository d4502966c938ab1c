/** An LwM2M path: 1 to 4 ids, object/instance/resource/resource instance. */
export type Lwm2mPath = number[]

/** Parses "/3/0/5700" (leading slash optional); undefined when not 1-4 integer ids in 0-65535. */
export function parsePath(text: string): Lwm2mPath | undefined {
  const segments = text.replace(/^\//, '').replace(/\/$/, '').split('/')
  if (segments.length < 1 || segments.length > 4) return undefined
  const ids: number[] = []
  for (const segment of segments) {
    if (!/^\d{1,5}$/.test(segment)) return undefined
    const id = Number(segment)
    if (id > 0xffff) return undefined
    ids.push(id)
  }
  return ids
}

export function formatPath(path: readonly number[]): string {
  return `/${path.join('/')}`
}
