import { Migration } from '@mikro-orm/migrations';

export class Migration20261204193322_mfa extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "recovery_codes" ("id" uuid not null, "user_id" uuid not null, "code_digest" bytea not null, "created_at" timestamptz not null default now(), "used_at" timestamptz null, constraint "recovery_codes_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "recovery_codes" add constraint "recovery_codes_user_digest_unique" unique ("user_id", "code_digest");`,
    );

    this.addSql(
      `create table "user_factors" ("id" uuid not null, "user_id" uuid not null, "kind" varchar(16) not null, "name" varchar(100) not null, "created_at" timestamptz not null default now(), "last_used_at" timestamptz null, "secret" text null, "encrypted" boolean not null default false, "last_used_step" bigint null, "credential_id" bytea null, "public_key" bytea null, "sign_count" bigint null, "transports" text[] null, "device_type" varchar(16) null, constraint "user_factors_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "user_factors_user_id_index" on "user_factors" ("user_id");`);
    this.addSql(
      `alter table "user_factors" add constraint "user_factors_credential_id_unique" unique ("credential_id");`,
    );

    this.addSql(
      `create table "webauthn_challenges" ("digest" bytea not null, "purpose" varchar(16) not null, "user_id" uuid null, "expires_at" timestamptz not null, constraint "webauthn_challenges_pkey" primary key ("digest"));`,
    );
    this.addSql(
      `create index "webauthn_challenges_expires_at_index" on "webauthn_challenges" ("expires_at");`,
    );

    this.addSql(
      `alter table "recovery_codes" add constraint "recovery_codes_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "user_factors" add constraint "user_factors_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(`alter table "sessions" add column "amr" text[] not null default '{pwd}';`);

    this.addSql(`alter table "authorization_codes" add column "amr" text[] null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "recovery_codes" cascade;`);

    this.addSql(`drop table if exists "user_factors" cascade;`);

    this.addSql(`drop table if exists "webauthn_challenges" cascade;`);

    this.addSql(`alter table "authorization_codes" drop column "amr";`);

    this.addSql(`alter table "sessions" drop column "amr";`);
  }
}
