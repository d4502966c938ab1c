import type Database from 'better-sqlite3'

/** The columns that hold one application message; `retained`, `messages` and `wills` all carry them. */
const MESSAGE_COLUMNS = `
  message_id TEXT,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  origin TEXT,
  expires_at INTEGER,
  properties TEXT,
  correlation_data BLOB`

/**
 * Schema versions in order: entry i takes the database from `user_version` i to i + 1.
 * Append a new entry for a change; never edit one that has shipped.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE retained (${MESSAGE_COLUMNS},
    PRIMARY KEY (topic)
  );
  CREATE TABLE sessions (
    client_id TEXT PRIMARY KEY,
    protocol_version INTEGER NOT NULL,
    expiry_interval INTEGER NOT NULL,
    disconnected_at INTEGER,
    broker_id TEXT
  ) WITHOUT ROWID;
  CREATE TABLE subscriptions (
    client_id TEXT NOT NULL,
    filter TEXT NOT NULL,
    qos INTEGER NOT NULL,
    no_local INTEGER,
    retain_as_published INTEGER,
    retain_handling INTEGER,
    subscription_identifier INTEGER,
    PRIMARY KEY (client_id, filter)
  ) WITHOUT ROWID;
  CREATE TABLE messages (${MESSAGE_COLUMNS},
    PRIMARY KEY (message_id)
  );
  CREATE TABLE outbound (
    seq INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL,
    message_id TEXT NOT NULL REFERENCES messages (message_id),
    qos INTEGER NOT NULL,
    state TEXT NOT NULL,
    packet_id INTEGER,
    subscription_identifiers TEXT,
    retain INTEGER
  );
  CREATE INDEX outbound_by_client ON outbound (client_id);
  CREATE UNIQUE INDEX outbound_by_client_message ON outbound (client_id, message_id);
  CREATE INDEX outbound_by_client_packet ON outbound (client_id, packet_id) WHERE packet_id IS NOT NULL;
  CREATE INDEX outbound_by_message ON outbound (message_id);
  CREATE TABLE incoming (
    client_id TEXT NOT NULL,
    packet_id INTEGER NOT NULL,
    PRIMARY KEY (client_id, packet_id)
  ) WITHOUT ROWID;
  CREATE TABLE wills (${MESSAGE_COLUMNS},
    client_id TEXT PRIMARY KEY,
    broker_id TEXT,
    delay_interval INTEGER NOT NULL
  );
  `,
  `
  CREATE TABLE session_data (
    client_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (client_id, key)
  ) WITHOUT ROWID;
  `,
  // An entry carries its own body when it is the message's only copy (message_qos and message_retain are the
  // body's qos and retain; the entry's own are the delivery's): such a message writes no row in `messages`
  // and no entry in `outbound_by_message`, which then indexes only the entries whose body is shared. The
  // table is rebuilt because the foreign key to `messages` cannot be dropped in place, and a body delete
  // would scan `outbound` to check it once `outbound_by_message` is partial. Existing entries keep their
  // shared bodies.
  `
  CREATE TABLE outbound_v3 (
    seq INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    qos INTEGER NOT NULL,
    state TEXT NOT NULL,
    packet_id INTEGER,
    subscription_identifiers TEXT,
    retain INTEGER,
    topic TEXT,
    payload BLOB,
    message_qos INTEGER,
    message_retain INTEGER,
    origin TEXT,
    expires_at INTEGER,
    properties TEXT,
    correlation_data BLOB
  );
  INSERT INTO outbound_v3 (seq, client_id, message_id, qos, state, packet_id, subscription_identifiers, retain)
    SELECT seq, client_id, message_id, qos, state, packet_id, subscription_identifiers, retain FROM outbound;
  DROP TABLE outbound;
  ALTER TABLE outbound_v3 RENAME TO outbound;
  CREATE INDEX outbound_by_client ON outbound (client_id);
  CREATE UNIQUE INDEX outbound_by_client_message ON outbound (client_id, message_id);
  CREATE INDEX outbound_by_client_packet ON outbound (client_id, packet_id) WHERE packet_id IS NOT NULL;
  CREATE INDEX outbound_by_message ON outbound (message_id) WHERE topic IS NULL;
  `,
]

/** Brings the schema up to date, one transaction per version; refuses a file written by a newer adapter. */
export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > MIGRATIONS.length) {
    throw new Error(`SQLite schema version ${current} is newer than this adapter knows (${MIGRATIONS.length}): upgrade @wren/persistence-sqlite`)
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version] as string)
      db.pragma(`user_version = ${version + 1}`)
    })()
  }
}
