import { describe, expect, it } from 'vitest'
import { BrokerOptionError, createBroker, type BrokerOptions } from '../src/index.js'

/** createBroker called as plain JavaScript would: any value for any option. */
const createUntyped = (options: unknown) => createBroker(options as BrokerOptions)

describe('createBroker option validation', () => {
  it.each<[string, unknown, RegExp]>([
    ['maxQos', 3, /^createBroker option maxQos must be an integer from 0 to 2, got 3$/],
    ['maxInflight', '100', /^createBroker option maxInflight must be an integer from 1 to 65535, got "100"$/],
    ['receiveMaximum', 0, /receiveMaximum must be an integer from 1 to 65535, got 0/],
    ['connectTimeout', 1.5, /connectTimeout must be an integer/],
    ['maxClientIdLength', 10, /maxClientIdLength must be an integer from 23 to 65535/],
    ['retainAvailable', 'yes', /retainAvailable must be true or false, got "yes"/],
    ['queueFullPolicy', 'drop-all', /queueFullPolicy must be one of "drop-new", "drop-old", got "drop-all"/],
    ['fullQueueAction', 'block', /fullQueueAction must be one of "hold-publishers", "drop" or a function, got "block"/],
    ['qos0HoldTime', -1, /qos0HoldTime must be an integer from 0 to 3600000, got -1/],
    ['logger', { info() {} }, /logger must have the methods debug, warn, error/],
    ['sharedSubscriptionStrategy', 'random', /sharedSubscriptionStrategy must be a function/],
    ['id', '', /id must not be empty/],
    ['maxQoS', 1, /^createBroker option maxQoS is not a known option$/],
  ])('refuses %s = %j with a coded error naming it', (option, value, message) => {
    let thrown: unknown
    try {
      createUntyped({ [option]: value })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(BrokerOptionError)
    expect(thrown).toMatchObject({ code: 'WREN_INVALID_OPTION', option })
    expect((thrown as Error).message).toMatch(message)
  })

  it('refuses options that are not an object', () => {
    expect(() => createUntyped(42)).toThrow(/createBroker options must be an object, got 42/)
  })

  it('accepts every option at its documented limits, and undefined as absent', async () => {
    const broker = createBroker({
      maxQos: 0,
      maxClientIdLength: 23,
      topicAliasMaximum: 0,
      maxSessionExpiryInterval: 0xffffffff,
      maxPacketSize: 268_435_455,
      queueFullPolicy: 'drop-old',
      fullQueueAction: () => 'drop',
      qos0HoldTime: 0,
      retainAvailable: false,
      responseInformation: '',
      sysInterval: 0,
      maxInflight: undefined,
    })
    await broker.ready()
    await broker.close()
  })
})
