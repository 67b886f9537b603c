import { Field, ObjectType } from 'type-graphql';

/** Relay connection page info. */
@ObjectType()
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => Boolean, { description: 'Always false: connections page forwards only.' })
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true })
  startCursor!: string | null;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

export function pageInfo<T>(page: {
  nodes: T[];
  hasNextPage: boolean;
  endCursor: string | null;
  cursorOf(n: T): string;
}): PageInfo {
  const info = new PageInfo();
  info.hasNextPage = page.hasNextPage;
  info.hasPreviousPage = false;
  info.startCursor = page.nodes.length ? page.cursorOf(page.nodes[0]) : null;
  info.endCursor = page.endCursor;
  return info;
}
