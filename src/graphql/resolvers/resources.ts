import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { Resource } from '../../entities/Resource.js';
import {
  createResource,
  deleteResource,
  listResources,
  type ResourceInput,
  updateResource,
} from '../../services/resources.js';
import type { GqlContext } from '../context.js';
import type { AccessTokenFormatValue } from '../types/enums.js';
import { CreateResourceInput, ResourceType, UpdateResourceInput } from '../types/resource.js';

function toResource(r: Resource): ResourceType {
  return {
    id: r.id,
    identifier: r.identifier,
    name: r.name,
    scopes: r.scopes,
    accessTokenFormat: r.accessTokenFormat as AccessTokenFormatValue,
    accessTokenTtl: r.accessTokenTtl ?? null,
    createdAt: r.createdAt,
  };
}

@Resolver()
export class ResourceResolver {
  @Query(() => [ResourceType], { description: 'Admins only. Registered resources (RFC 8707).' })
  async resources(@Ctx() { ctx }: GqlContext): Promise<ResourceType[]> {
    return (await listResources(ctx)).map(toResource);
  }

  @Mutation(() => ResourceType, { description: 'Admins only.' })
  async createResource(
    @Ctx() { ctx }: GqlContext,
    @Arg('input', () => CreateResourceInput) input: CreateResourceInput,
  ): Promise<ResourceType> {
    return toResource(
      await createResource(ctx, {
        identifier: input.identifier,
        name: input.name,
        scopes: input.scopes ?? [],
        accessTokenFormat: input.accessTokenFormat ?? 'opaque',
        accessTokenTtl: input.accessTokenTtl ?? null,
      }),
    );
  }

  @Mutation(() => ResourceType, { description: 'Admins only.' })
  async updateResource(
    @Ctx() { ctx }: GqlContext,
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateResourceInput) input: UpdateResourceInput,
  ): Promise<ResourceType> {
    const patch: Partial<ResourceInput> = {};
    if (input.identifier != null) patch.identifier = input.identifier;
    if (input.name != null) patch.name = input.name;
    if (input.scopes != null) patch.scopes = input.scopes;
    if (input.accessTokenFormat != null) patch.accessTokenFormat = input.accessTokenFormat;
    if (input.accessTokenTtl != null) patch.accessTokenTtl = input.accessTokenTtl;
    if (input.resetAccessTokenTtl) patch.accessTokenTtl = null;
    return toResource(await updateResource(ctx, id, patch));
  }

  @Mutation(() => Boolean, {
    description: 'Admins only. Tokens already issued for it keep their audience until they expire.',
  })
  async deleteResource(@Ctx() { ctx }: GqlContext, @Arg('id', () => ID) id: string): Promise<boolean> {
    return deleteResource(ctx, id);
  }
}
