import { Migration } from '@mikro-orm/migrations';

export class Migration20261128002501 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "rate_limit_counters" ("key" varchar(300) not null, "count" int not null, "expires_at" timestamptz not null, constraint "rate_limit_counters_pkey" primary key ("key"));`,
    );
    this.addSql(
      `create index "rate_limit_counters_expires_at_index" on "rate_limit_counters" ("expires_at");`,
    );

    this.addSql(
      `create table "server_secrets" ("name" varchar(64) not null, "value" text not null, "created_at" timestamptz not null default now(), constraint "server_secrets_pkey" primary key ("name"));`,
    );

    this.addSql(
      `create table "signing_keys" ("id" varchar(64) not null, "alg" varchar(8) not null, "public_jwk" jsonb not null, "private_key" text not null, "encrypted" boolean not null default false, "status" varchar(16) not null, "created_at" timestamptz not null default now(), "rotated_at" timestamptz null, "expires_at" timestamptz null, constraint "signing_keys_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "signing_keys_expires_at_index" on "signing_keys" ("expires_at");`);

    this.addSql(
      `create table "users" ("id" uuid not null, "username" varchar(150) not null, "email" varchar(254) null, "email_verified" boolean not null default false, "password_hash" text not null, "is_admin" boolean not null default false, "is_active" boolean not null default true, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "password_changed_at" timestamptz not null default now(), constraint "users_pkey" primary key ("id"));`,
    );
    this.addSql(`alter table "users" add constraint "users_username_unique" unique ("username");`);

    this.addSql(
      `create table "sessions" ("id" uuid not null, "token_digest" bytea not null, "user_id" uuid not null, "auth_time" timestamptz not null, "created_at" timestamptz not null default now(), "last_seen_at" timestamptz not null default now(), "expires_at" timestamptz not null, "absolute_expires_at" timestamptz not null, "ip" varchar(64) null, "user_agent" varchar(256) null, constraint "sessions_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "sessions" add constraint "sessions_token_digest_unique" unique ("token_digest");`,
    );
    this.addSql(`create index "sessions_user_id_index" on "sessions" ("user_id");`);
    this.addSql(`create index "sessions_expires_at_index" on "sessions" ("expires_at");`);

    this.addSql(
      `create table "audit_events" ("id" uuid not null, "actor_id" uuid null, "actor_label" varchar(200) not null, "action" varchar(64) not null, "target_type" varchar(32) null, "target_id" varchar(64) null, "ip" varchar(64) null, "details" jsonb not null default '{}', "created_at" timestamptz not null default now(), constraint "audit_events_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "audit_events_actor_id_index" on "audit_events" ("actor_id");`);
    this.addSql(`create index "audit_events_action_index" on "audit_events" ("action");`);
    this.addSql(`create index "audit_events_target_id_index" on "audit_events" ("target_id");`);
    this.addSql(`create index "audit_events_created_at_index" on "audit_events" ("created_at");`);

    this.addSql(
      `create table "applications" ("id" uuid not null, "client_id" varchar(64) not null, "client_secret_digest" bytea null, "name" varchar(200) not null, "client_type" varchar(16) not null, "token_endpoint_auth_method" varchar(32) not null, "grant_types" text[] not null, "redirect_uris" text[] not null, "post_logout_redirect_uris" text[] not null default '{}', "allowed_origins" text[] not null default '{}', "scopes" text[] not null, "skip_authorization" boolean not null default false, "access_token_format" varchar(8) not null default 'opaque', "id_token_signed_response_alg" varchar(8) not null default 'RS256', "owner_id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), constraint "applications_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "applications" add constraint "applications_client_id_unique" unique ("client_id");`,
    );
    this.addSql(
      `alter table "applications" add constraint "applications_client_secret_digest_unique" unique ("client_secret_digest");`,
    );
    this.addSql(`create index "applications_owner_id_index" on "applications" ("owner_id");`);

    this.addSql(
      `create table "grants" ("id" uuid not null, "user_id" uuid not null, "application_id" uuid not null, "scopes" text[] not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "last_used_at" timestamptz null, "revoked_at" timestamptz null, constraint "grants_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "grants_application_id_index" on "grants" ("application_id");`);
    this.addSql(
      `create unique index "grants_active_user_application_unique" on "grants" ("user_id", "application_id") where "revoked_at" is null;`,
    );

    this.addSql(
      `create table "refresh_tokens" ("id" uuid not null, "token_digest" bytea not null, "application_id" uuid not null, "user_id" uuid not null, "grant_id" uuid null, "family_id" uuid not null, "parent_id" uuid null, "scopes" text[] not null, "auth_time" timestamptz null, "sid" uuid null, "created_at" timestamptz not null default now(), "expires_at" timestamptz not null, "consumed_at" timestamptz null, "revoked_at" timestamptz null, constraint "refresh_tokens_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "refresh_tokens" add constraint "refresh_tokens_token_digest_unique" unique ("token_digest");`,
    );
    this.addSql(`create index "refresh_tokens_application_id_index" on "refresh_tokens" ("application_id");`);
    this.addSql(`create index "refresh_tokens_user_id_index" on "refresh_tokens" ("user_id");`);
    this.addSql(`create index "refresh_tokens_grant_id_index" on "refresh_tokens" ("grant_id");`);
    this.addSql(`create index "refresh_tokens_family_id_index" on "refresh_tokens" ("family_id");`);
    this.addSql(`create index "refresh_tokens_expires_at_index" on "refresh_tokens" ("expires_at");`);

    this.addSql(
      `create table "authorization_codes" ("id" uuid not null, "code_digest" bytea not null, "application_id" uuid not null, "user_id" uuid not null, "grant_id" uuid not null, "redirect_uri" text null, "scopes" text[] not null, "code_challenge" varchar(128) null, "code_challenge_method" varchar(8) null, "nonce" text null, "auth_time" timestamptz not null, "sid" uuid null, "created_at" timestamptz not null default now(), "expires_at" timestamptz not null, "consumed_at" timestamptz null, constraint "authorization_codes_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "authorization_codes" add constraint "authorization_codes_code_digest_unique" unique ("code_digest");`,
    );
    this.addSql(
      `create index "authorization_codes_application_id_index" on "authorization_codes" ("application_id");`,
    );
    this.addSql(`create index "authorization_codes_user_id_index" on "authorization_codes" ("user_id");`);
    this.addSql(`create index "authorization_codes_grant_id_index" on "authorization_codes" ("grant_id");`);
    this.addSql(
      `create index "authorization_codes_expires_at_index" on "authorization_codes" ("expires_at");`,
    );

    this.addSql(
      `create table "access_tokens" ("id" uuid not null, "token_digest" bytea not null, "application_id" uuid not null, "user_id" uuid null, "grant_id" uuid null, "family_id" uuid null, "scopes" text[] not null, "format" varchar(8) not null default 'opaque', "created_at" timestamptz not null default now(), "expires_at" timestamptz not null, "revoked_at" timestamptz null, constraint "access_tokens_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "access_tokens" add constraint "access_tokens_token_digest_unique" unique ("token_digest");`,
    );
    this.addSql(`create index "access_tokens_application_id_index" on "access_tokens" ("application_id");`);
    this.addSql(`create index "access_tokens_expires_at_index" on "access_tokens" ("expires_at");`);
    this.addSql(
      `create index "access_tokens_family_id_index" on "access_tokens" ("family_id") where "family_id" is not null;`,
    );
    this.addSql(
      `create index "access_tokens_grant_id_index" on "access_tokens" ("grant_id") where "grant_id" is not null;`,
    );
    this.addSql(
      `create index "access_tokens_user_id_index" on "access_tokens" ("user_id") where "user_id" is not null;`,
    );

    this.addSql(
      `alter table "sessions" add constraint "sessions_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "audit_events" add constraint "audit_events_actor_id_foreign" foreign key ("actor_id") references "users" ("id") on update cascade on delete set null;`,
    );

    this.addSql(
      `alter table "applications" add constraint "applications_owner_id_foreign" foreign key ("owner_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "grants" add constraint "grants_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "grants" add constraint "grants_application_id_foreign" foreign key ("application_id") references "applications" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "refresh_tokens" add constraint "refresh_tokens_application_id_foreign" foreign key ("application_id") references "applications" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "refresh_tokens" add constraint "refresh_tokens_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "refresh_tokens" add constraint "refresh_tokens_grant_id_foreign" foreign key ("grant_id") references "grants" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "authorization_codes" add constraint "authorization_codes_application_id_foreign" foreign key ("application_id") references "applications" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "authorization_codes" add constraint "authorization_codes_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "authorization_codes" add constraint "authorization_codes_grant_id_foreign" foreign key ("grant_id") references "grants" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "access_tokens" add constraint "access_tokens_application_id_foreign" foreign key ("application_id") references "applications" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "access_tokens" add constraint "access_tokens_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "access_tokens" add constraint "access_tokens_grant_id_foreign" foreign key ("grant_id") references "grants" ("id") on update cascade on delete cascade;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "sessions" drop constraint "sessions_user_id_foreign";`);

    this.addSql(`alter table "audit_events" drop constraint "audit_events_actor_id_foreign";`);

    this.addSql(`alter table "applications" drop constraint "applications_owner_id_foreign";`);

    this.addSql(`alter table "grants" drop constraint "grants_user_id_foreign";`);

    this.addSql(`alter table "refresh_tokens" drop constraint "refresh_tokens_user_id_foreign";`);

    this.addSql(`alter table "authorization_codes" drop constraint "authorization_codes_user_id_foreign";`);

    this.addSql(`alter table "access_tokens" drop constraint "access_tokens_user_id_foreign";`);

    this.addSql(`alter table "grants" drop constraint "grants_application_id_foreign";`);

    this.addSql(`alter table "refresh_tokens" drop constraint "refresh_tokens_application_id_foreign";`);

    this.addSql(
      `alter table "authorization_codes" drop constraint "authorization_codes_application_id_foreign";`,
    );

    this.addSql(`alter table "access_tokens" drop constraint "access_tokens_application_id_foreign";`);

    this.addSql(`alter table "refresh_tokens" drop constraint "refresh_tokens_grant_id_foreign";`);

    this.addSql(`alter table "authorization_codes" drop constraint "authorization_codes_grant_id_foreign";`);

    this.addSql(`alter table "access_tokens" drop constraint "access_tokens_grant_id_foreign";`);

    this.addSql(`drop table if exists "rate_limit_counters" cascade;`);

    this.addSql(`drop table if exists "server_secrets" cascade;`);

    this.addSql(`drop table if exists "signing_keys" cascade;`);

    this.addSql(`drop table if exists "users" cascade;`);

    this.addSql(`drop table if exists "sessions" cascade;`);

    this.addSql(`drop table if exists "audit_events" cascade;`);

    this.addSql(`drop table if exists "applications" cascade;`);

    this.addSql(`drop table if exists "grants" cascade;`);

    this.addSql(`drop table if exists "refresh_tokens" cascade;`);

    this.addSql(`drop table if exists "authorization_codes" cascade;`);

    this.addSql(`drop table if exists "access_tokens" cascade;`);
  }
}
