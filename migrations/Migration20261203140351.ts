import { Migration } from '@mikro-orm/migrations';

export class Migration20261203140351 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "server_secrets" add column "encrypted" boolean not null default false;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "server_secrets" drop column "encrypted";`);
  }
}
