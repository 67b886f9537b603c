import { Migration } from '@mikro-orm/migrations';

export class Migration20261128004211 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create unique index "signing_keys_active_alg_unique" on "signing_keys" ("alg") where "status" = 'active';`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "signing_keys_active_alg_unique";`);
  }
}
