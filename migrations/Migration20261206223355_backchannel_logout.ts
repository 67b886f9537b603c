import { Migration } from '@mikro-orm/migrations';

export class Migration20261206223355_backchannel_logout extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "session_applications" ("session_id" uuid not null, "application_id" uuid not null, "expires_at" timestamptz not null, constraint "session_applications_pkey" primary key ("session_id", "application_id"));`,
    );
    this.addSql(
      `create index "session_applications_expires_at_index" on "session_applications" ("expires_at");`,
    );

    this.addSql(
      `create table "backchannel_logouts" ("id" uuid not null, "application_id" uuid not null, "sub" varchar(64) not null, "sid" varchar(64) null, "jti" varchar(64) not null, "attempts" int not null default 0, "next_attempt_at" timestamptz not null default now(), "expires_at" timestamptz not null, "created_at" timestamptz not null default now(), "last_error" varchar(200) null, constraint "backchannel_logouts_pkey" primary key ("id"));`,
    );
    this.addSql(
      `create index "backchannel_logouts_application_id_index" on "backchannel_logouts" ("application_id");`,
    );
    this.addSql(
      `create index "backchannel_logouts_next_attempt_at_index" on "backchannel_logouts" ("next_attempt_at");`,
    );
    this.addSql(
      `create index "backchannel_logouts_created_at_index" on "backchannel_logouts" ("created_at");`,
    );

    this.addSql(
      `alter table "backchannel_logouts" add constraint "backchannel_logouts_application_id_foreign" foreign key ("application_id") references "applications" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "applications" add column "backchannel_logout_uri" varchar(2000) null, add column "backchannel_logout_session_required" boolean not null default false;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "session_applications" cascade;`);

    this.addSql(`drop table if exists "backchannel_logouts" cascade;`);

    this.addSql(
      `alter table "applications" drop column "backchannel_logout_uri", drop column "backchannel_logout_session_required";`,
    );
  }
}
