import { Migration } from '@mikro-orm/migrations';

export class Migration20261203152806 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "resources" ("id" uuid not null, "identifier" text not null, "name" varchar(200) not null, "scopes" text[] not null, "access_token_format" varchar(8) not null default 'opaque', "access_token_ttl" int null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), constraint "resources_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "resources" add constraint "resources_identifier_unique" unique ("identifier");`,
    );

    this.addSql(`alter table "grants" add column "resources" text[] not null default '{}';`);

    this.addSql(`alter table "refresh_tokens" add column "resources" text[] not null default '{}';`);

    this.addSql(`alter table "device_codes" add column "resources" text[] not null default '{}';`);

    this.addSql(`alter table "authorization_codes" add column "resources" text[] not null default '{}';`);

    this.addSql(`alter table "access_tokens" add column "audience" text null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "resources" cascade;`);

    this.addSql(`alter table "access_tokens" drop column "audience";`);

    this.addSql(`alter table "authorization_codes" drop column "resources";`);

    this.addSql(`alter table "device_codes" drop column "resources";`);

    this.addSql(`alter table "grants" drop column "resources";`);

    this.addSql(`alter table "refresh_tokens" drop column "resources";`);
  }
}
