import { Migration } from '@mikro-orm/migrations';

export class Migration20261204192419_par_private_key_jwt extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "pushed_authorization_requests" ("digest" bytea not null, "application_id" uuid not null, "params" text not null, "expires_at" timestamptz not null, constraint "pushed_authorization_requests_pkey" primary key ("digest"));`,
    );
    this.addSql(
      `create index "pushed_authorization_requests_application_id_index" on "pushed_authorization_requests" ("application_id");`,
    );
    this.addSql(
      `create index "pushed_authorization_requests_expires_at_index" on "pushed_authorization_requests" ("expires_at");`,
    );

    this.addSql(
      `alter table "pushed_authorization_requests" add constraint "pushed_authorization_requests_application_id_foreign" foreign key ("application_id") references "applications" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "applications" add column "jwks" jsonb null, add column "jwks_uri" varchar(2000) null, add column "require_par" boolean not null default false;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "pushed_authorization_requests" cascade;`);

    this.addSql(
      `alter table "applications" drop column "jwks", drop column "jwks_uri", drop column "require_par";`,
    );
  }
}
