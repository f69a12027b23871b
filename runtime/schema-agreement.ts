/**
 * A compile-time comparison of a hand-written type (with its doc comments, what the code reads) and
 * the type a schema accepts (TypeOf, from the typed builders of sections/common.ts), so the two
 * cannot drift apart. Types only: nothing of it exists at run time.
 */

type Objects<T> = Exclude<Extract<T, object>, readonly unknown[]>;
type Elements<T> = Extract<T, readonly unknown[]>[number];
type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T];
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Optional<T, K extends keyof T> = K extends OptionalKeys<T> ? 'optional' : 'required';

type KeyMismatches<A, B, P extends string> =
  | { [K in Exclude<keyof A, keyof B> & string]: `${P}.${K}: in the type, not in the schema` }[Exclude<
      keyof A,
      keyof B
    > &
      string]
  | { [K in Exclude<keyof B, keyof A> & string]: `${P}.${K}: in the schema, not in the type` }[Exclude<
      keyof B,
      keyof A
    > &
      string]
  | {
      [K in keyof A & keyof B & string]: Same<Optional<A, K>, Optional<B, K>> extends true
        ? Mismatches<A[K], B[K], `${P}.${K}`>
        : `${P}.${K}: ${Optional<A, K>} in the type, ${Optional<B, K>} in the schema`;
    }[keyof A & keyof B & string];

/**
 * Every difference between A (the type) and B (the schema's) as "$.path: what", or never. Mutual
 * assignability alone would miss an optional key one side lacks, so keys are compared one by one,
 * into lists and into the object members of unions; where none of them differs but the types still
 * do (a string against a number), the path itself is named.
 */
export type Mismatches<A, B, P extends string = '$'> =
  Deeper<A, B, P> extends infer D
    ? [D] extends [never]
      ? Same<A, B> extends true
        ? never
        : `${P}: the type and the schema's differ`
      : D
    : never;

type Deeper<A, B, P extends string> =
  | ([Elements<A> | Elements<B>] extends [never] ? never : Mismatches<Elements<A>, Elements<B>, `${P}[]`>)
  | ([Objects<A> | Objects<B>] extends [never] ? never : KeyMismatches<Objects<A>, Objects<B>, P>);

/** Compiles only when there is no mismatch; otherwise the error shows each as a string. */
export type Agreed<M extends never> = M;
