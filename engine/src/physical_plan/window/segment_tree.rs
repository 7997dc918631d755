//! [`SegmentTree`]: aggregates over arbitrary sliding frames in `O(log n)` per frame.
//!
//! Leis et al., "Efficient Processing of Window Functions in Analytical SQL Queries" (VLDB
//! 2015): a frame whose both ends move (`ROWS BETWEEN 3 PRECEDING AND 2 FOLLOWING`, or a
//! frame with an `EXCLUDE`) cannot be maintained incrementally for every aggregate (MIN has
//! no inverse), and recomputing each frame costs `O(n · frame)`. A segment tree stores the
//! aggregate state of every aligned power-of-two block once (`O(n)` states) and answers any
//! range by combining `O(log n)` of them. The combine must be associative; every state used
//! here is also commutative, so the classic bottom-up iterative layout (leaves at
//! `n..2n`) answers ranges without caring about the order in which blocks are met.

/// A segment tree over `leaves` combined with `combine`, `identity` being the empty state.
pub(crate) struct SegmentTree<S, F> {
    nodes: Vec<S>,
    len: usize,
    identity: S,
    combine: F,
}

impl<S: Clone, F: Fn(&S, &S) -> S> SegmentTree<S, F> {
    /// Builds the tree in `O(n)` combines.
    pub(crate) fn new(leaves: Vec<S>, identity: S, combine: F) -> Self {
        let len = leaves.len();
        let mut nodes = Vec::with_capacity(2 * len);
        nodes.resize(len, identity.clone());
        nodes.extend(leaves);
        for i in (1..len).rev() {
            nodes[i] = combine(&nodes[2 * i], &nodes[2 * i + 1]);
        }
        SegmentTree {
            nodes,
            len,
            identity,
            combine,
        }
    }

    /// The combined state of leaves `start..end` (the identity for an empty range).
    pub(crate) fn query(&self, start: usize, end: usize) -> S {
        let mut acc = self.identity.clone();
        let (mut lo, mut hi) = (start.min(self.len) + self.len, end.min(self.len) + self.len);
        while lo < hi {
            if lo & 1 == 1 {
                acc = (self.combine)(&acc, &self.nodes[lo]);
                lo += 1;
            }
            if hi & 1 == 1 {
                hi -= 1;
                acc = (self.combine)(&acc, &self.nodes[hi]);
            }
            lo /= 2;
            hi /= 2;
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sums_and_minima_of_ranges() {
        let values = [5i64, -2, 7, 7, 0, 3, -9, 4];
        let sums = SegmentTree::new(values.to_vec(), 0, |a, b| a + b);
        assert_eq!(sums.query(0, 8), 15);
        assert_eq!(sums.query(2, 5), 14);
        assert_eq!(sums.query(3, 3), 0);
        assert_eq!(sums.query(6, 20), -5);
        let minima = SegmentTree::new(values.to_vec(), i64::MAX, |a, b| *a.min(b));
        assert_eq!(minima.query(0, 6), -2);
        assert_eq!(minima.query(2, 4), 7);
        assert_eq!(minima.query(5, 8), -9);
    }

    proptest! {
        #[test]
        fn every_range_matches_a_direct_fold(
            values in proptest::collection::vec(-1000i64..1000, 0..40),
            a in 0usize..45,
            b in 0usize..45,
        ) {
            let (start, end) = (a.min(b), a.max(b));
            let tree = SegmentTree::new(values.iter().map(|&v| (v, v)).collect(), (0i64, i64::MAX), |x: &(i64, i64), y: &(i64, i64)| {
                (x.0 + y.0, x.1.min(y.1))
            });
            let slice = &values[start.min(values.len())..end.min(values.len())];
            let expected = (slice.iter().sum::<i64>(), slice.iter().copied().min().unwrap_or(i64::MAX));
            prop_assert_eq!(tree.query(start, end), expected);
        }
    }
}
