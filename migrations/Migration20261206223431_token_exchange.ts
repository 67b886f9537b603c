import { Migration } from '@mikro-orm/migrations';

export class Migration20261206223431_token_exchange extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "applications" add column "token_exchange_audiences" text[] not null default '{}', add column "token_exchange_impersonation" boolean not null default false, add column "token_exchange_refresh_tokens" boolean not null default false;`,
    );

    this.addSql(`alter table "access_tokens" add column "act" jsonb null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "access_tokens" drop column "act";`);

    this.addSql(
      `alter table "applications" drop column "token_exchange_audiences", drop column "token_exchange_impersonation", drop column "token_exchange_refresh_tokens";`,
    );
  }
}
