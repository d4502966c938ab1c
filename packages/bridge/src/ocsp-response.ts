import { X509Certificate, verify } from 'node:crypto'

/**
 * Checks a stapled OCSP response (RFC 6960) for the remote's certificate, as Mosquitto's `bridge_require_ocsp`
 * asks: a successful basic response, signed by the certificate's issuer (or by a responder certificate the
 * issuer signed for OCSP signing), whose entry for the certificate's serial number says "good" and is current.
 * Node's TLS hands the response over as bytes and checks none of it, hence this small DER reader.
 * Returns undefined when the response is good, or why it is not.
 */
export function ocspProblem(response: Buffer | null | undefined, certificate: X509Certificate, issuer: X509Certificate | undefined, now = Date.now()): string | undefined {
  if (!response || response.length === 0) return 'the remote stapled no OCSP response'
  if (!issuer) return "the remote certificate's issuer is unknown, so its OCSP response cannot be checked"
  try {
    return check(response, certificate, issuer, now)
  } catch (error) {
    return `malformed OCSP response: ${(error as Error).message}`
  }
}

interface Element {
  tag: number
  /** The whole element, header included (what a signature covers). */
  raw: Buffer
  content: Buffer
}

class Reader {
  private offset = 0
  constructor(private readonly bytes: Buffer) {}

  get done(): boolean {
    return this.offset >= this.bytes.length
  }

  peek(): number | undefined {
    return this.bytes[this.offset]
  }

  next(expectedTag?: number): Element {
    const start = this.offset
    const tag = this.byte()
    let length = this.byte()
    if (length & 0x80) {
      const count = length & 0x7f
      if (count === 0 || count > 4) throw new Error('unsupported length')
      length = 0
      for (let i = 0; i < count; i++) length = length * 256 + this.byte()
    }
    const contentStart = this.offset
    this.offset += length
    if (this.offset > this.bytes.length) throw new Error('truncated')
    if (expectedTag !== undefined && tag !== expectedTag) throw new Error(`expected tag 0x${expectedTag.toString(16)}, got 0x${tag.toString(16)}`)
    return { tag, raw: this.bytes.subarray(start, this.offset), content: this.bytes.subarray(contentStart, this.offset) }
  }

  private byte(): number {
    const value = this.bytes[this.offset++]
    if (value === undefined) throw new Error('truncated')
    return value
  }
}

const SEQUENCE = 0x30
const ENUMERATED = 0x0a
const OID = 0x06
const OCTET_STRING = 0x04
const BIT_STRING = 0x03
const INTEGER = 0x02
const GENERALIZED_TIME = 0x18
const CONTEXT_0 = 0xa0
const CERT_GOOD = 0x80
const CERT_REVOKED = 0xa1
const ID_PKIX_OCSP_BASIC = '2b0601050507300101'
const OCSP_SIGNING = '1.3.6.1.5.5.7.3.9'
/** Clocks of the responder and of this machine may differ a little. */
const SKEW_MS = 5 * 60_000

/** Signature algorithms a responder uses, by the hex of their OID: the digest to verify with. */
const DIGESTS: Record<string, string> = {
  '2a864886f70d010105': 'sha1',
  '2a864886f70d01010b': 'sha256',
  '2a864886f70d01010c': 'sha384',
  '2a864886f70d01010d': 'sha512',
  '2a8648ce3d040302': 'sha256',
  '2a8648ce3d040303': 'sha384',
  '2a8648ce3d040304': 'sha512',
}

const children = (element: Element): Reader => new Reader(element.content)

function check(response: Buffer, certificate: X509Certificate, issuer: X509Certificate, now: number): string | undefined {
  const outer = children(new Reader(response).next(SEQUENCE))
  const status = outer.next(ENUMERATED).content[0]
  if (status !== 0) return `the OCSP responder answered with status ${status} instead of successful`
  const responseBytes = children(children(outer.next(CONTEXT_0)).next(SEQUENCE))
  if (responseBytes.next(OID).content.toString('hex') !== ID_PKIX_OCSP_BASIC) return 'not a basic OCSP response'
  const basic = children(new Reader(responseBytes.next(OCTET_STRING).content).next(SEQUENCE))
  const tbs = basic.next(SEQUENCE)
  const digest = DIGESTS[children(basic.next(SEQUENCE)).next(OID).content.toString('hex')]
  if (digest === undefined) return 'the OCSP response is signed with an unknown algorithm'
  const signature = basic.next(BIT_STRING).content.subarray(1)
  const included = basic.peek() === CONTEXT_0 ? certificates(basic.next(CONTEXT_0)) : []
  const signers = [issuer, ...included.filter((responder) => responder.verify(issuer.publicKey) && (responder.keyUsage ?? []).includes(OCSP_SIGNING))]
  if (!signers.some((signer) => verify(digest, tbs.raw, signer.publicKey, signature))) {
    return 'the OCSP response is not signed by the certificate issuer or a responder it authorised'
  }
  return singleResponse(children(tbs), certificate, now)
}

function certificates(element: Element): X509Certificate[] {
  const list = children(children(element).next(SEQUENCE))
  const found: X509Certificate[] = []
  while (!list.done) found.push(new X509Certificate(list.next(SEQUENCE).raw))
  return found
}

/** The entry of ResponseData for the certificate: its status and its validity window. */
function singleResponse(data: Reader, certificate: X509Certificate, now: number): string | undefined {
  if (data.peek() === CONTEXT_0) data.next()
  data.next() // responderID
  data.next(GENERALIZED_TIME) // producedAt
  const responses = children(data.next(SEQUENCE))
  const serial = normaliseSerial(certificate.serialNumber)
  while (!responses.done) {
    const single = children(responses.next(SEQUENCE))
    const certId = children(single.next(SEQUENCE))
    certId.next(SEQUENCE)
    certId.next(OCTET_STRING)
    certId.next(OCTET_STRING)
    if (normaliseSerial(certId.next(INTEGER).content.toString('hex')) !== serial) continue
    const status = single.next()
    if (status.tag === CERT_REVOKED) return 'the OCSP response says the remote certificate is revoked'
    if (status.tag !== CERT_GOOD) return 'the OCSP response says the status of the remote certificate is unknown'
    const thisUpdate = generalizedTime(single.next(GENERALIZED_TIME))
    if (thisUpdate > now + SKEW_MS) return 'the OCSP response is not valid yet'
    if (single.peek() === CONTEXT_0) {
      const nextUpdate = generalizedTime(children(single.next(CONTEXT_0)).next(GENERALIZED_TIME))
      if (nextUpdate < now - SKEW_MS) return 'the OCSP response has expired'
    }
    return undefined
  }
  return 'the OCSP response says nothing about the remote certificate'
}

function normaliseSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '')
}

/** YYYYMMDDHHMMSS[.fff]Z */
function generalizedTime(element: Element): number {
  const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(element.content.toString('latin1'))
  if (!match) throw new Error('bad time')
  const [, year, month, day, hour, minute, second] = match.map(Number) as [number, number, number, number, number, number, number]
  return Date.UTC(year, month - 1, day, hour, minute, second)
}
