import { Migration } from '@mikro-orm/migrations';

export class Migration20261204202704_application_profile extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "applications" add column "profile" varchar(16) not null default 'none', add column "rotate_refresh_tokens" boolean not null default true;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "applications" drop column "profile", drop column "rotate_refresh_tokens";`);
  }
}
