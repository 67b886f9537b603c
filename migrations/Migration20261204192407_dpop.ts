import { Migration } from '@mikro-orm/migrations';

export class Migration20261204192407_dpop extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "applications" add column "require_dpop" boolean not null default false;`);

    this.addSql(`alter table "refresh_tokens" add column "jkt" varchar(64) null;`);

    this.addSql(`alter table "authorization_codes" add column "dpop_jkt" varchar(64) null;`);

    this.addSql(`alter table "access_tokens" add column "jkt" varchar(64) null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "access_tokens" drop column "jkt";`);

    this.addSql(`alter table "applications" drop column "require_dpop";`);

    this.addSql(`alter table "authorization_codes" drop column "dpop_jkt";`);

    this.addSql(`alter table "refresh_tokens" drop column "jkt";`);
  }
}
