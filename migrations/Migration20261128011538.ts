import { Migration } from '@mikro-orm/migrations';

export class Migration20261128011538 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "device_codes" ("id" uuid not null, "device_code_digest" bytea not null, "user_code" varchar(16) not null, "application_id" uuid not null, "scopes" text[] not null, "status" varchar(16) not null default 'pending', "user_id" uuid null, "grant_id" uuid null, "auth_time" timestamptz null, "poll_interval" int not null, "last_polled_at" timestamptz null, "created_at" timestamptz not null default now(), "expires_at" timestamptz not null, constraint "device_codes_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "device_codes" add constraint "device_codes_device_code_digest_unique" unique ("device_code_digest");`,
    );
    this.addSql(
      `alter table "device_codes" add constraint "device_codes_user_code_unique" unique ("user_code");`,
    );
    this.addSql(`create index "device_codes_application_id_index" on "device_codes" ("application_id");`);
    this.addSql(`create index "device_codes_user_id_index" on "device_codes" ("user_id");`);
    this.addSql(`create index "device_codes_expires_at_index" on "device_codes" ("expires_at");`);

    this.addSql(
      `alter table "device_codes" add constraint "device_codes_application_id_foreign" foreign key ("application_id") references "applications" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "device_codes" add constraint "device_codes_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "device_codes" add constraint "device_codes_grant_id_foreign" foreign key ("grant_id") references "grants" ("id") on update cascade on delete cascade;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "device_codes" cascade;`);
  }
}
