import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import {
  createApplication,
  deleteApplication,
  getManagedApplication,
  getManagedApplicationByClientId,
  listApplications,
  rotateClientSecret,
  updateApplication,
} from '../../services/applications.js';
import { NotFoundError } from '../../services/errors.js';
import type { GqlContext } from '../context.js';
import { toApplication, toConnection, toUser } from '../mappers.js';
import {
  ApplicationConnection,
  ApplicationType,
  CreateApplicationPayload,
  RotateClientSecretPayload,
} from '../types/application.js';
import { ApplicationFilter, CreateApplicationInput, UpdateApplicationInput } from '../types/inputs.js';
import { UserType } from '../types/user.js';

@Resolver(() => ApplicationType)
export class ApplicationResolver {
  @Query(() => ApplicationConnection, { description: 'Your applications; admins see all.' })
  async applications(
    @Ctx() { ctx }: GqlContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
    @Arg('filter', () => ApplicationFilter, { nullable: true }) filter?: ApplicationFilter,
  ): Promise<ApplicationConnection> {
    const page = await listApplications(ctx, { first, after }, filter ?? {});
    return toConnection(page, toApplication);
  }

  @Query(() => ApplicationType, { nullable: true })
  async application(
    @Ctx() { ctx }: GqlContext,
    @Arg('id', () => ID) id: string,
  ): Promise<ApplicationType | null> {
    return nullIfNotFound(async () => toApplication(await getManagedApplication(ctx, id)));
  }

  @Query(() => ApplicationType, { nullable: true })
  async applicationByClientId(
    @Ctx() { ctx }: GqlContext,
    @Arg('clientId', () => String) clientId: string,
  ): Promise<ApplicationType | null> {
    return nullIfNotFound(async () => toApplication(await getManagedApplicationByClientId(ctx, clientId)));
  }

  @Mutation(() => CreateApplicationPayload)
  async createApplication(
    @Ctx() { ctx }: GqlContext,
    @Arg('input', () => CreateApplicationInput) input: CreateApplicationInput,
  ): Promise<CreateApplicationPayload> {
    // No owner given: the service registers it for the acting user (and refuses anyone else).
    const { application, clientSecret } = await createApplication(ctx, undefined, { ...input });
    return { application: toApplication(application), clientSecret };
  }

  @Mutation(() => ApplicationType)
  async updateApplication(
    @Ctx() { ctx }: GqlContext,
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateApplicationInput) input: UpdateApplicationInput,
  ): Promise<ApplicationType> {
    return toApplication(await updateApplication(ctx, id, withoutNulls(input)));
  }

  @Mutation(() => Boolean, {
    description: 'Deletes the application; its grants, codes and tokens go with it.',
  })
  async deleteApplication(@Ctx() { ctx }: GqlContext, @Arg('id', () => ID) id: string): Promise<boolean> {
    await deleteApplication(ctx, id);
    return true;
  }

  @Mutation(() => RotateClientSecretPayload)
  async rotateClientSecret(
    @Ctx() { ctx }: GqlContext,
    @Arg('id', () => ID) id: string,
  ): Promise<RotateClientSecretPayload> {
    const { application, clientSecret } = await rotateClientSecret(ctx, id);
    return { application: toApplication(application), clientSecret: clientSecret! };
  }

  @FieldResolver(() => UserType, {
    nullable: true,
    description: 'Who registered it; null for a dynamically registered application.',
  })
  async owner(@Root() app: ApplicationType, @Ctx() { ctx, loaders }: GqlContext): Promise<UserType | null> {
    if (app.ownerId === null) return null;
    const user = await loaders.user.load(app.ownerId);
    if (!user) throw new NotFoundError('Owner not found.');
    return toUser(ctx, user);
  }

  @FieldResolver(() => Int, { description: 'Active access tokens issued to this application.' })
  async activeTokenCount(@Root() app: ApplicationType, @Ctx() { loaders }: GqlContext): Promise<number> {
    return loaders.activeTokenCount.load(app.id);
  }
}

/** For single lookups a missing or foreign object reads as null (its existence is not revealed). */
async function nullIfNotFound<T>(load: () => Promise<T>): Promise<T | null> {
  try {
    return await load();
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
}

/** GraphQL sends explicit nulls for omitted optional fields; the services read undefined as "unchanged". */
function withoutNulls<T extends object>(input: T): { [K in keyof T]?: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null && v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], null>;
  };
}
