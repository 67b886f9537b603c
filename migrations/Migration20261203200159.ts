import { Migration } from '@mikro-orm/migrations';

export class Migration20261203200159 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "applications" add column "metadata_document" boolean not null default false, add column "client_uri" varchar(2000) null, add column "logo_uri" varchar(2000) null, add column "contacts" text[] not null default '{}';`,
    );
    this.addSql(
      `alter table "applications" alter column "client_id" type varchar(2000) using ("client_id"::varchar(2000));`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(
      `alter table "applications" drop column "metadata_document", drop column "client_uri", drop column "logo_uri", drop column "contacts";`,
    );

    this.addSql(
      `alter table "applications" alter column "client_id" type varchar(64) using ("client_id"::varchar(64));`,
    );
  }
}
