// etcd's quorum rule, for plans (pure).

/** How many members must answer for etcd to work: a majority of `size`. */
export const quorum = (size: number): number => Math.floor(size / 2) + 1;
