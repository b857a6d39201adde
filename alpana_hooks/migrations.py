"""Schema migrations, append-only: add the next mNNN_… below for SQLite and the same step in POSTGRES; never edit a
released one. SQLite counts them in PRAGMA user_version, PostgreSQL in the table alpana_hooks_schema."""

from sqlite_utils import Migrations

migrations = Migrations("alpana_hooks")

M001 = [
    """CREATE TABLE subscriptions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        event_type TEXT NOT NULL,
        url TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
        disabled_reason TEXT,
        disabled_at TEXT,
        failing_since TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (tenant, event_type, url)
    )""",
    "CREATE INDEX subscriptions_by_tenant ON subscriptions (tenant, event_type, state)",
    """CREATE TABLE subscription_headers (
        subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
        name TEXT NOT NULL COLLATE NOCASE,
        value TEXT NOT NULL,
        PRIMARY KEY (subscription_id, name)
    )""",
    """CREATE TABLE subscription_secrets (
        id INTEGER PRIMARY KEY,
        subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
        secret TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT
    )""",
    "CREATE INDEX secrets_by_subscription ON subscription_secrets (subscription_id)",
    """CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        event_id TEXT NOT NULL,
        type TEXT NOT NULL,
        data TEXT NOT NULL,
        body BLOB NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (tenant, event_id)
    )""",
    "CREATE INDEX events_by_tenant_time ON events (tenant, created_at)",
    "CREATE INDEX events_by_tenant_type_time ON events (tenant, type, created_at)",
    """CREATE TABLE resources (
        tenant TEXT NOT NULL,
        kind TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        name TEXT,
        version INTEGER,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (tenant, kind, resource_id)
    )""",
    """CREATE TABLE attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        subscription_id INTEGER NOT NULL,
        event_pk INTEGER NOT NULL REFERENCES events (id),
        attempt_number INTEGER NOT NULL DEFAULT 1,
        trigger TEXT NOT NULL CHECK (trigger IN ('emit', 'retry', 'resend', 'ping')),
        resend_of INTEGER,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'succeeded', 'failed')),
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        duration_ms INTEGER,
        url TEXT NOT NULL,
        request_headers TEXT,
        status_code INTEGER,
        response_headers TEXT,
        response_body BLOB,
        response_truncated INTEGER NOT NULL DEFAULT 0,
        error_class TEXT,
        error TEXT,
        next_attempt_at TEXT,
        lease_until TEXT,
        claimed_by TEXT
    )""",
    "CREATE INDEX attempts_by_subscription_time ON attempts (subscription_id, created_at)",
    "CREATE INDEX attempts_by_tenant_time ON attempts (tenant, created_at)",
    "CREATE INDEX attempts_by_event ON attempts (event_pk)",
    "CREATE INDEX attempts_unfinished ON attempts (status) WHERE status IN ('pending', 'sending')",
    "CREATE INDEX attempts_retry_due ON attempts (next_attempt_at) WHERE next_attempt_at IS NOT NULL",
    "PRAGMA user_version = 1",
]


@migrations()
def m001_initial(db):
    """Subscriptions, their headers and secrets, events, remembered resources, send attempts."""
    for statement in M001:
        db.execute(statement)


@migrations()
def m002_attempts_by_tenant_subscription(db):
    """attempts list --subscription: the tenant index alone scans a tenant's whole history."""
    db.execute("CREATE INDEX attempts_by_tenant_subscription_time ON attempts (tenant, subscription_id, created_at)")
    db.execute("PRAGMA user_version = 2")


@migrations()
def m003_response_headers_truncated(db):
    """Response headers are capped like the body: say when an attempt's were cut."""
    db.execute("ALTER TABLE attempts ADD COLUMN response_headers_truncated INTEGER NOT NULL DEFAULT 0")
    db.execute("PRAGMA user_version = 3")


@migrations()
def m004_header_ids(db):
    """Headers get an id, so their order (the order they were set in) is a column both backends have (not
    SQLite's rowid, which keeps its values: the table is rebuilt with them)."""
    for statement in (
        """CREATE TABLE subscription_headers_new (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
            name TEXT NOT NULL COLLATE NOCASE,
            value TEXT NOT NULL,
            UNIQUE (subscription_id, name)
        )""",
        "INSERT INTO subscription_headers_new (id, subscription_id, name, value)"
        " SELECT rowid, subscription_id, name, value FROM subscription_headers ORDER BY rowid",
        "DROP TABLE subscription_headers",
        "ALTER TABLE subscription_headers_new RENAME TO subscription_headers",
        "PRAGMA user_version = 4",
    ):
        db.execute(statement)


M005 = [
    "ALTER TABLE subscriptions ADD COLUMN filter TEXT",
    "CREATE INDEX attempts_by_subscription_status_time ON attempts (tenant, subscription_id, status, created_at)",
]

M006 = [
    # the claim walks the unfinished attempts in id order and stops at its LIMIT: its cost stays flat however many
    # finished attempts the table holds (on the status index alone, with statistics, SQLite scans the table by rowid)
    "CREATE INDEX attempts_unfinished_by_id ON attempts (id) WHERE status IN ('pending', 'sending')",
    # a dispatcher's leases (renewed every 5 s, handed back at the end) without scanning the whole table
    "CREATE INDEX attempts_by_claim ON attempts (claimed_by) WHERE claimed_by IS NOT NULL",
]


M007 = [
    # issue 14: a subscription's rate limit ('10/s', '600/m', '5000/h'; NULL: none) and the time its next send may
    # go, moved on by the claim transaction of whichever process sends (NULL: now)
    "ALTER TABLE subscriptions ADD COLUMN rate_limit TEXT",
    "ALTER TABLE subscriptions ADD COLUMN next_send_at TEXT",
    # a one-shot deliver finds the limited subscriptions that hold pending attempts without scanning them all
    "CREATE INDEX subscriptions_rate_limited ON subscriptions (id) WHERE rate_limit IS NOT NULL",
]


@migrations()
def m005_filters_and_stats(db):
    """Payload filters (a JMESPath expression per subscription, NULL: none); `stats` finds a subscription's
    last success and failure, and counts its failures since, in an index instead of its whole history."""
    for statement in M005:
        db.execute(statement)
    db.execute("PRAGMA user_version = 5")


@migrations()
def m006_claim_indexes(db):
    """Flat claim cost (issue 14): indexes for the claim's order and for a dispatcher's own claims."""
    for statement in M006:
        db.execute(statement)
    db.execute("PRAGMA user_version = 6")


@migrations()
def m007_rate_limits(db):
    """Per-subscription rate limits (issue 14): the limit and the budget, which lives in the store."""
    for statement in M007:
        db.execute(statement)
    db.execute("PRAGMA user_version = 7")


# PostgreSQL: the same steps in its types. Ids are identity columns (never reused, like AUTOINCREMENT), times
# timestamptz, event data jsonb, bodies bytea; header names are unique case-insensitively through lower(name).
POSTGRES: list[tuple[str, list[str]]] = [
    ("m001_initial", [
        """CREATE TABLE subscriptions (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tenant text NOT NULL,
            event_type text NOT NULL,
            url text NOT NULL,
            description text NOT NULL DEFAULT '',
            state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
            disabled_reason text,
            disabled_at timestamptz,
            failing_since timestamptz,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            UNIQUE (tenant, event_type, url)
        )""",
        "CREATE INDEX subscriptions_by_tenant ON subscriptions (tenant, event_type, state)",
        """CREATE TABLE subscription_headers (
            subscription_id bigint NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
            name text NOT NULL,
            value text NOT NULL
        )""",
        "CREATE UNIQUE INDEX headers_by_subscription_name ON subscription_headers (subscription_id, lower(name))",
        """CREATE TABLE subscription_secrets (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            subscription_id bigint NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
            secret text NOT NULL,
            created_at timestamptz NOT NULL,
            expires_at timestamptz
        )""",
        "CREATE INDEX secrets_by_subscription ON subscription_secrets (subscription_id)",
        """CREATE TABLE events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tenant text NOT NULL,
            event_id text NOT NULL,
            type text NOT NULL,
            data jsonb NOT NULL,
            body bytea NOT NULL,
            created_at timestamptz NOT NULL,
            UNIQUE (tenant, event_id)
        )""",
        "CREATE INDEX events_by_tenant_time ON events (tenant, created_at)",
        "CREATE INDEX events_by_tenant_type_time ON events (tenant, type, created_at)",
        """CREATE TABLE resources (
            tenant text NOT NULL,
            kind text NOT NULL,
            resource_id text NOT NULL,
            name text,
            version bigint,
            updated_at timestamptz NOT NULL,
            PRIMARY KEY (tenant, kind, resource_id)
        )""",
        """CREATE TABLE attempts (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tenant text NOT NULL,
            subscription_id bigint NOT NULL,
            event_pk bigint NOT NULL REFERENCES events (id),
            attempt_number integer NOT NULL DEFAULT 1,
            trigger text NOT NULL CHECK (trigger IN ('emit', 'retry', 'resend', 'ping')),
            resend_of bigint,
            status text NOT NULL CHECK (status IN ('pending', 'sending', 'succeeded', 'failed')),
            created_at timestamptz NOT NULL,
            started_at timestamptz,
            finished_at timestamptz,
            duration_ms integer,
            url text NOT NULL,
            request_headers text,
            status_code integer,
            response_headers text,
            response_body bytea,
            response_truncated integer NOT NULL DEFAULT 0,
            error_class text,
            error text,
            next_attempt_at timestamptz,
            lease_until timestamptz,
            claimed_by text
        )""",
        "CREATE INDEX attempts_by_subscription_time ON attempts (subscription_id, created_at)",
        "CREATE INDEX attempts_by_tenant_time ON attempts (tenant, created_at)",
        "CREATE INDEX attempts_by_event ON attempts (event_pk)",
        "CREATE INDEX attempts_unfinished ON attempts (status) WHERE status IN ('pending', 'sending')",
        "CREATE INDEX attempts_retry_due ON attempts (next_attempt_at) WHERE next_attempt_at IS NOT NULL",
    ]),
    ("m002_attempts_by_tenant_subscription", [
        "CREATE INDEX attempts_by_tenant_subscription_time ON attempts (tenant, subscription_id, created_at)",
    ]),
    ("m003_response_headers_truncated", [
        "ALTER TABLE attempts ADD COLUMN response_headers_truncated integer NOT NULL DEFAULT 0",
    ]),
    ("m004_header_ids", [
        "ALTER TABLE subscription_headers ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    ]),
    ("m005_filters_and_stats", M005),
    ("m006_claim_indexes", M006),
    ("m007_rate_limits", [
        "ALTER TABLE subscriptions ADD COLUMN rate_limit text",
        "ALTER TABLE subscriptions ADD COLUMN next_send_at timestamptz",
        "CREATE INDEX subscriptions_rate_limited ON subscriptions (id) WHERE rate_limit IS NOT NULL",
    ]),
]
