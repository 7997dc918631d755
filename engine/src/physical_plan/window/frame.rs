//! Partitions, peer groups and the frame of every row, in sorted positions.
//!
//! After the sort, a partition is a contiguous run of rows and its peer groups (rows equal on
//! every ORDER BY key) are contiguous runs inside it. [`PartitionLayout`] records them once
//! per (PARTITION BY, ORDER BY) key set; [`FrameBounds`] turns a [`WindowFrame`] into the
//! half-open range of partition positions each row's frame covers, and [`FrameBounds::pieces`]
//! applies the frame's `EXCLUDE` clause, which leaves at most three ranges (the rows before
//! the excluded peers, the current row for `EXCLUDE TIES`, the rows after).
//!
//! RANGE offsets follow PostgreSQL: they compare the single ORDER BY key's values (in the
//! direction of the ordering), a row whose key is NULL has its NULL peers as its offset
//! bounds, and a non-NULL row's offset bounds never reach the NULLs.

use crate::expr::{WindowFrame, WindowFrameBound, WindowFrameExclusion, WindowFrameUnits};

/// One partition of the sorted rows: where it starts and its peer groups.
#[derive(Debug, Clone)]
pub(crate) struct PartitionLayout {
    /// Position of the partition's first row in the sorted batch.
    pub offset: usize,
    pub len: usize,
    /// Peer group of each row (partition-local positions).
    pub group_of: Vec<u32>,
    /// Start of each peer group, followed by `len`.
    pub group_starts: Vec<usize>,
}

impl PartitionLayout {
    /// Number of peer groups.
    pub fn groups(&self) -> usize {
        self.group_starts.len() - 1
    }

    /// Partition-local start and end of row `i`'s peer group.
    pub fn peers(&self, i: usize) -> (usize, usize) {
        let g = self.group_of[i] as usize;
        (self.group_starts[g], self.group_starts[g + 1])
    }
}

/// The values of a RANGE frame's ORDER BY key in one partition, made ascending (negated for a
/// descending key) so offsets always subtract towards PRECEDING.
#[derive(Debug, Clone)]
pub(crate) enum RangeKeys {
    /// Integers and decimals (unscaled); `unit` is one in the key's scale.
    Exact {
        values: Vec<Option<i128>>,
        unit: i128,
    },
    Float(Vec<Option<f64>>),
}

impl RangeKeys {
    fn is_null(&self, i: usize) -> bool {
        match self {
            RangeKeys::Exact { values, .. } => values[i].is_none(),
            RangeKeys::Float(values) => values[i].is_none(),
        }
    }

    /// The first position of `lo..hi` whose key is `>= key(i) + delta` (`>` when `strict`).
    fn search(&self, lo: usize, hi: usize, i: usize, delta: i64, strict: bool) -> usize {
        match self {
            RangeKeys::Exact { values, unit } => {
                let Some(current) = values[i] else { return lo };
                let target = current.saturating_add((delta as i128).saturating_mul(*unit));
                lo + values[lo..hi].partition_point(|v| match v {
                    Some(v) if strict => *v <= target,
                    Some(v) => *v < target,
                    None => true,
                })
            }
            RangeKeys::Float(values) => {
                let Some(current) = values[i] else { return lo };
                let target = current + delta as f64;
                lo + values[lo..hi].partition_point(|v| match v {
                    Some(v) if strict => *v <= target,
                    Some(v) => *v < target,
                    None => true,
                })
            }
        }
    }

    /// The run of non-NULL keys (NULLs sort together, first or last).
    fn non_null_run(&self, len: usize) -> (usize, usize) {
        let start = (0..len).find(|&i| !self.is_null(i)).unwrap_or(len);
        let end = (start..len).find(|&i| self.is_null(i)).unwrap_or(len);
        (start, end)
    }
}

/// Up to three disjoint ranges of partition positions, in order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pieces {
    ranges: [(usize, usize); 3],
    count: usize,
}

impl Pieces {
    fn push(&mut self, start: usize, end: usize) {
        if start < end {
            self.ranges[self.count] = (start, end);
            self.count += 1;
        }
    }

    /// The non-empty ranges.
    pub fn ranges(&self) -> &[(usize, usize)] {
        &self.ranges[..self.count]
    }

    /// Rows covered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.ranges().iter().map(|(s, e)| e - s).sum()
    }

    /// The `n`-th covered row (0-based), if there are that many.
    pub fn nth(&self, mut n: usize) -> Option<usize> {
        for &(s, e) in self.ranges() {
            if n < e - s {
                return Some(s + n);
            }
            n -= e - s;
        }
        None
    }

    /// The last covered row.
    pub fn last(&self) -> Option<usize> {
        self.ranges().last().map(|&(_, e)| e - 1)
    }
}

/// Frame computation for the rows of one partition.
#[derive(Debug)]
pub(crate) struct FrameBounds<'a> {
    frame: WindowFrame,
    layout: &'a PartitionLayout,
    keys: Option<&'a RangeKeys>,
    non_null: (usize, usize),
}

impl<'a> FrameBounds<'a> {
    /// `keys` must be given for a RANGE frame with an offset.
    pub fn new(
        frame: WindowFrame,
        layout: &'a PartitionLayout,
        keys: Option<&'a RangeKeys>,
    ) -> Self {
        let non_null = keys.map_or((0, layout.len), |k| k.non_null_run(layout.len));
        FrameBounds {
            frame,
            layout,
            keys,
            non_null,
        }
    }

    /// Whether the frame is a running one: it starts at the partition's first row and
    /// excludes nothing, so its end only moves forward and the aggregate can be carried along.
    pub fn is_running(&self) -> bool {
        self.frame.start == WindowFrameBound::UnboundedPreceding
            && self.frame.exclusion == WindowFrameExclusion::NoOthers
    }

    fn range_bound(&self, i: usize, delta: i64, strict: bool, at_peers: usize) -> usize {
        match self.keys {
            Some(keys) if !keys.is_null(i) => {
                keys.search(self.non_null.0, self.non_null.1, i, delta, strict)
            }
            _ => at_peers,
        }
    }

    /// Row `i`'s frame before exclusion: partition-local `start..end` (empty when
    /// `start == end`).
    pub fn bounds(&self, i: usize) -> (usize, usize) {
        use WindowFrameBound as B;
        let layout = self.layout;
        let len = layout.len;
        let g = layout.group_of[i] as usize;
        let groups = layout.groups();
        let (peers_start, peers_end) = layout.peers(i);
        let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let start = match (self.frame.units, self.frame.start) {
            (_, B::UnboundedPreceding) => 0,
            (_, B::UnboundedFollowing) => len,
            (WindowFrameUnits::Rows, B::CurrentRow) => i,
            (_, B::CurrentRow) => peers_start,
            (WindowFrameUnits::Rows, B::Preceding(n)) => i.saturating_sub(n as usize),
            (WindowFrameUnits::Rows, B::Following(n)) => i.saturating_add(n as usize).min(len),
            (WindowFrameUnits::Groups, B::Preceding(n)) => {
                layout.group_starts[g.saturating_sub(n as usize)]
            }
            (WindowFrameUnits::Groups, B::Following(n)) => {
                layout.group_starts[g.saturating_add(n as usize).min(groups)]
            }
            (WindowFrameUnits::Range, B::Preceding(n)) => {
                self.range_bound(i, -signed(n), false, peers_start)
            }
            (WindowFrameUnits::Range, B::Following(n)) => {
                self.range_bound(i, signed(n), false, peers_start)
            }
        };
        let end = match (self.frame.units, self.frame.end) {
            (_, B::UnboundedFollowing) => len,
            (_, B::UnboundedPreceding) => 0,
            (WindowFrameUnits::Rows, B::CurrentRow) => i + 1,
            (_, B::CurrentRow) => peers_end,
            (WindowFrameUnits::Rows, B::Preceding(n)) => (i + 1).saturating_sub(n as usize),
            (WindowFrameUnits::Rows, B::Following(n)) => {
                i.saturating_add(n as usize).saturating_add(1).min(len)
            }
            (WindowFrameUnits::Groups, B::Preceding(n)) => {
                if (n as usize) > g {
                    0
                } else {
                    layout.group_starts[g - n as usize + 1]
                }
            }
            (WindowFrameUnits::Groups, B::Following(n)) => {
                layout.group_starts[g.saturating_add(n as usize).saturating_add(1).min(groups)]
            }
            (WindowFrameUnits::Range, B::Preceding(n)) => {
                self.range_bound(i, -signed(n), true, peers_end)
            }
            (WindowFrameUnits::Range, B::Following(n)) => {
                self.range_bound(i, signed(n), true, peers_end)
            }
        };
        (start, end.max(start))
    }

    /// Row `i`'s frame after the `EXCLUDE` clause.
    pub fn pieces(&self, i: usize) -> Pieces {
        let (start, end) = self.bounds(i);
        let mut pieces = Pieces::default();
        let (peers_start, peers_end) = self.layout.peers(i);
        match self.frame.exclusion {
            WindowFrameExclusion::NoOthers => pieces.push(start, end),
            WindowFrameExclusion::CurrentRow => {
                pieces.push(start, end.min(i));
                pieces.push(start.max(i + 1), end);
            }
            WindowFrameExclusion::Group => {
                pieces.push(start, end.min(peers_start));
                pieces.push(start.max(peers_end), end);
            }
            WindowFrameExclusion::Ties => {
                pieces.push(start, end.min(peers_start));
                if start <= i && i < end {
                    pieces.push(i, i + 1);
                }
                pieces.push(start.max(peers_end), end);
            }
        }
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::WindowFrameBound as B;

    /// Seven rows in peer groups [0,1] [2] [3,4,5] [6].
    fn layout() -> PartitionLayout {
        PartitionLayout {
            offset: 0,
            len: 7,
            group_of: vec![0, 0, 1, 2, 2, 2, 3],
            group_starts: vec![0, 2, 3, 6, 7],
        }
    }

    fn frame(units: WindowFrameUnits, start: B, end: B) -> WindowFrame {
        WindowFrame::new(units, start, end)
    }

    #[test]
    fn rows_groups_and_default_range_frames() {
        let layout = layout();
        let rows = FrameBounds::new(
            frame(WindowFrameUnits::Rows, B::Preceding(1), B::Following(1)),
            &layout,
            None,
        );
        assert_eq!(rows.bounds(0), (0, 2));
        assert_eq!(rows.bounds(4), (3, 6));
        assert_eq!(rows.bounds(6), (5, 7));
        let running = FrameBounds::new(WindowFrame::default_for(true), &layout, None);
        assert!(running.is_running());
        assert_eq!(running.bounds(3), (0, 6));
        assert_eq!(running.bounds(0), (0, 2));
        let groups = FrameBounds::new(
            frame(WindowFrameUnits::Groups, B::Preceding(1), B::CurrentRow),
            &layout,
            None,
        );
        assert_eq!(groups.bounds(4), (2, 6));
        assert_eq!(groups.bounds(1), (0, 2));
        let ahead = FrameBounds::new(
            frame(WindowFrameUnits::Rows, B::Following(2), B::Following(3)),
            &layout,
            None,
        );
        assert_eq!(ahead.bounds(5), (7, 7));
        let behind = FrameBounds::new(
            frame(WindowFrameUnits::Rows, B::Preceding(3), B::Preceding(2)),
            &layout,
            None,
        );
        assert_eq!(behind.bounds(1), (0, 0));
        assert_eq!(behind.bounds(4), (1, 3));
    }

    #[test]
    fn range_offsets_compare_values_and_skip_nulls() {
        // Values 1, 1, 2, 4, 4, 4, NULL (NULLS LAST).
        let layout = layout();
        let keys = RangeKeys::Exact {
            values: vec![Some(1), Some(1), Some(2), Some(4), Some(4), Some(4), None],
            unit: 1,
        };
        let range = FrameBounds::new(
            frame(WindowFrameUnits::Range, B::Preceding(1), B::Following(1)),
            &layout,
            Some(&keys),
        );
        assert_eq!(range.bounds(0), (0, 3));
        assert_eq!(range.bounds(2), (0, 3));
        assert_eq!(range.bounds(3), (3, 6));
        assert_eq!(range.bounds(6), (6, 7));
    }

    #[test]
    fn exclusions_cut_the_frame() {
        let layout = layout();
        let whole = |exclusion| {
            let mut f = frame(
                WindowFrameUnits::Rows,
                B::UnboundedPreceding,
                B::UnboundedFollowing,
            );
            f.exclusion = exclusion;
            FrameBounds::new(f, &layout, None).pieces(4)
        };
        assert_eq!(
            whole(WindowFrameExclusion::CurrentRow).ranges(),
            &[(0, 4), (5, 7)]
        );
        assert_eq!(
            whole(WindowFrameExclusion::Group).ranges(),
            &[(0, 3), (6, 7)]
        );
        let ties = whole(WindowFrameExclusion::Ties);
        assert_eq!(ties.ranges(), &[(0, 3), (4, 5), (6, 7)]);
        assert_eq!(ties.len(), 5);
        assert_eq!(ties.nth(3), Some(4));
        assert_eq!(ties.last(), Some(6));
    }
}
