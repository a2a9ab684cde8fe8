-- An Estafette database's tables as ESTAFETTE.md section 4 documents them (its migrator's schema before migration
-- 00098 dropped the log steps), written for the import's tests from the documented columns. Indexes are left out:
-- the import reads by primary key only. CockroachDB's INT and SERIAL are 64 bits: BIGINT and BIGSERIAL here.
CREATE TABLE builds (
    id BIGSERIAL PRIMARY KEY,
    repo_source VARCHAR(256), repo_owner VARCHAR(256), repo_name VARCHAR(256), repo_branch VARCHAR(256),
    repo_revision VARCHAR(256), build_version VARCHAR(256), build_status VARCHAR(256),
    labels JSONB, manifest TEXT, commits JSONB, releases JSONB, release_targets JSONB, triggers JSONB,
    triggered_by_event JSONB,
    inserted_at TIMESTAMPTZ DEFAULT now(), updated_at TIMESTAMPTZ DEFAULT now(), started_at TIMESTAMPTZ,
    cpu_request FLOAT, cpu_limit FLOAT, cpu_max_usage FLOAT, memory_request FLOAT, memory_limit FLOAT,
    memory_max_usage FLOAT, organizations JSONB, groups JSONB, migrated_from BIGINT
);
CREATE TABLE build_logs (
    id BIGSERIAL PRIMARY KEY,
    repo_source VARCHAR(256), repo_owner VARCHAR(256), repo_name VARCHAR(256), repo_branch VARCHAR(256),
    repo_revision VARCHAR(256), build_id BIGINT, steps JSONB, inserted_at TIMESTAMPTZ DEFAULT now(), migrated_from BIGINT
);
CREATE TABLE build_versions (
    id BIGSERIAL PRIMARY KEY, repo_source VARCHAR(256), repo_full_name VARCHAR(256), auto_increment BIGINT DEFAULT 1,
    updated_at TIMESTAMPTZ DEFAULT now(), migrated_from BIGINT, UNIQUE (repo_source, repo_full_name)
);
CREATE TABLE releases (
    id BIGSERIAL PRIMARY KEY,
    repo_source VARCHAR(256), repo_owner VARCHAR(256), repo_name VARCHAR(256), release VARCHAR(256),
    release_version VARCHAR(256), release_status VARCHAR(256), release_action VARCHAR(256) DEFAULT '',
    triggered_by_event JSONB,
    inserted_at TIMESTAMPTZ DEFAULT now(), updated_at TIMESTAMPTZ DEFAULT now(), started_at TIMESTAMPTZ,
    cpu_request FLOAT, cpu_limit FLOAT, cpu_max_usage FLOAT, memory_request FLOAT, memory_limit FLOAT,
    memory_max_usage FLOAT, organizations JSONB, groups JSONB, migrated_from BIGINT
);
CREATE TABLE release_logs (
    id BIGSERIAL PRIMARY KEY,
    repo_source VARCHAR(256), repo_owner VARCHAR(256), repo_name VARCHAR(256), release_id BIGINT, steps JSONB,
    inserted_at TIMESTAMPTZ DEFAULT now(), migrated_from BIGINT
);
CREATE TABLE bots (
    id BIGSERIAL PRIMARY KEY,
    repo_source VARCHAR(256), repo_owner VARCHAR(256), repo_name VARCHAR(256), bot VARCHAR(256),
    bot_status VARCHAR(256), triggered_by_event JSONB,
    inserted_at TIMESTAMPTZ DEFAULT now(), started_at TIMESTAMPTZ, updated_at TIMESTAMPTZ DEFAULT now(),
    cpu_request FLOAT8, cpu_limit FLOAT8, cpu_max_usage FLOAT8, memory_request FLOAT8, memory_limit FLOAT8,
    memory_max_usage FLOAT8, organizations JSONB, groups JSONB
);
CREATE TABLE bot_logs (
    id BIGSERIAL PRIMARY KEY,
    repo_source VARCHAR(256), repo_owner VARCHAR(256), repo_name VARCHAR(256), bot_id BIGINT, steps JSONB,
    inserted_at TIMESTAMPTZ DEFAULT now()
);
CREATE TABLE computed_pipelines (
    id BIGSERIAL PRIMARY KEY, pipeline_id BIGINT,
    repo_source VARCHAR(256), repo_owner VARCHAR(256), repo_name VARCHAR(256), repo_branch VARCHAR(256),
    repo_revision VARCHAR(256), build_version VARCHAR(256), build_status VARCHAR(256),
    labels JSONB, manifest TEXT, commits JSONB, release_targets JSONB, triggers JSONB, triggered_by_event JSONB,
    inserted_at TIMESTAMPTZ DEFAULT now(), first_inserted_at TIMESTAMPTZ DEFAULT now(), started_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ DEFAULT now(), last_updated_at TIMESTAMPTZ DEFAULT now(), archived BOOLEAN DEFAULT false,
    recent_committers JSONB, recent_releasers JSONB, extra_info JSONB, notifications JSONB, bots JSONB,
    organizations JSONB, groups JSONB, migration_task_id VARCHAR(256),
    UNIQUE (repo_source, repo_owner, repo_name)
);
CREATE TABLE computed_releases (
    id BIGSERIAL PRIMARY KEY, release_id BIGINT,
    repo_source VARCHAR(256), repo_owner VARCHAR(256), repo_name VARCHAR(256), release VARCHAR(256),
    release_action VARCHAR(256) DEFAULT '', release_version VARCHAR(256), release_status VARCHAR(256),
    triggered_by_event JSONB, inserted_at TIMESTAMPTZ DEFAULT now(), first_inserted_at TIMESTAMPTZ DEFAULT now(),
    started_at TIMESTAMPTZ, updated_at TIMESTAMPTZ DEFAULT now(), extra_info JSONB, organizations JSONB, groups JSONB,
    UNIQUE (repo_source, repo_owner, repo_name, release, release_action)
);
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY, user_data JSONB, active BOOLEAN DEFAULT true,
    inserted_at TIMESTAMPTZ DEFAULT now(), updated_at TIMESTAMPTZ DEFAULT now()
);
CREATE TABLE groups (
    id BIGSERIAL PRIMARY KEY, group_data JSONB, active BOOLEAN DEFAULT true,
    inserted_at TIMESTAMPTZ DEFAULT now(), updated_at TIMESTAMPTZ DEFAULT now()
);
CREATE TABLE organizations (
    id BIGSERIAL PRIMARY KEY, organization_data JSONB, active BOOLEAN DEFAULT true,
    inserted_at TIMESTAMPTZ DEFAULT now(), updated_at TIMESTAMPTZ DEFAULT now()
);
CREATE TABLE clients (
    id BIGSERIAL PRIMARY KEY, client_data JSONB, active BOOLEAN DEFAULT true,
    inserted_at TIMESTAMPTZ DEFAULT now(), updated_at TIMESTAMPTZ DEFAULT now()
);
CREATE TABLE catalog_entities (
    id BIGSERIAL PRIMARY KEY, parent_key VARCHAR(256), parent_value VARCHAR(256), entity_key VARCHAR(256),
    entity_value VARCHAR(256), linked_pipeline VARCHAR(256), labels JSONB, entity_metadata JSONB,
    inserted_at TIMESTAMPTZ DEFAULT now(), updated_at TIMESTAMPTZ DEFAULT now()
);
CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY, link_type VARCHAR(256), link_id VARCHAR(256), link_detail JSONB, source VARCHAR(256),
    notifications JSONB, inserted_at TIMESTAMPTZ DEFAULT now(), organizations JSONB, groups JSONB
);
