import { Migration } from '@mikro-orm/migrations';

export class Migration20261204190945_used_jtis extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "used_jtis" ("digest" bytea not null, "expires_at" timestamptz not null, constraint "used_jtis_pkey" primary key ("digest"));`,
    );
    this.addSql(`create index "used_jtis_expires_at_index" on "used_jtis" ("expires_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "used_jtis" cascade;`);
  }
}
