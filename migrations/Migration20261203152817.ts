import { Migration } from '@mikro-orm/migrations';

export class Migration20261203152817 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "initial_access_tokens" ("id" uuid not null, "token_digest" bytea not null, "uses_left" int null, "uses" int null, "expires_at" timestamptz null, "revoked_at" timestamptz null, "created_by" varchar(150) not null, "created_at" timestamptz not null default now(), constraint "initial_access_tokens_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "initial_access_tokens" add constraint "initial_access_tokens_digest_unique" unique ("token_digest");`,
    );
    this.addSql(
      `create index "initial_access_tokens_expires_at_index" on "initial_access_tokens" ("expires_at");`,
    );

    this.addSql(
      `alter table "applications" add column "dynamically_registered" boolean not null default false, add column "registration_token_digest" bytea null, add column "first_used_at" timestamptz null;`,
    );
    this.addSql(`alter table "applications" alter column "owner_id" drop not null;`);
    this.addSql(
      `alter table "applications" add constraint "applications_registration_token_digest_unique" unique ("registration_token_digest");`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "initial_access_tokens" cascade;`);

    this.addSql(
      `alter table "applications" drop constraint "applications_registration_token_digest_unique";`,
    );
    this.addSql(
      `alter table "applications" drop column "dynamically_registered", drop column "registration_token_digest", drop column "first_used_at";`,
    );

    this.addSql(`alter table "applications" alter column "owner_id" set not null;`);
  }
}
