//! The open streams of a connection, by id: one array kept in id order, searched by bisection.
//!
//! Why not a `BTreeMap`: a client opens streams with ever-higher ids (§5.1.1), so a new stream
//! always goes at the end, with no node to allocate or rebalance per stream, and a lookup
//! among the at most `MAX_CONCURRENT_STREAMS` is a few comparisons in one contiguous array.
//! Closing a stream shifts the ones after it: a few dozen bytes each, cheaper than a tree's
//! rebalancing at these sizes (and than a ring's index arithmetic on every lookup). An insert
//! out of order (which `PeerStreams` never lets happen) still lands in its place.

use super::super::StreamId;

/// Values by stream id, in id order.
#[derive(Debug)]
pub(super) struct OpenStreams<V> {
    entries: Vec<(StreamId, V)>,
}

/// The room taken when the first stream opens: a burst of requests grows the array once,
/// not from 4 to 8 to 16.
const FIRST_ROOM: usize = 16;

impl<V> Default for OpenStreams<V> {
    fn default() -> Self {
        OpenStreams { entries: Vec::new() }
    }
}

impl<V> OpenStreams<V> {
    /// Where `id` is (`Ok`) or would go (`Err`).
    fn find(&self, id: StreamId) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&id, |&(key, _)| key)
    }

    /// The stream `id`, if open.
    pub(super) fn get(&self, id: &StreamId) -> Option<&V> {
        self.find(*id).ok().and_then(|at| self.entries.get(at)).map(|(_, v)| v)
    }

    /// The stream `id`, if open, to change.
    pub(super) fn get_mut(&mut self, id: &StreamId) -> Option<&mut V> {
        let at = self.find(*id).ok()?;
        self.entries.get_mut(at).map(|(_, v)| v)
    }

    /// Whether `id` is open.
    pub(super) fn contains_key(&self, id: &StreamId) -> bool {
        self.find(*id).is_ok()
    }

    /// Adds (or replaces) stream `id`.
    pub(super) fn insert(&mut self, id: StreamId, value: V) {
        match self.entries.last() {
            Some(&(last, _)) if last >= id => match self.find(id) {
                Ok(at) => self.entries[at].1 = value,
                Err(at) => self.entries.insert(at, (id, value)),
            },
            _ => {
                if self.entries.capacity() == 0 {
                    self.entries.reserve_exact(FIRST_ROOM);
                }
                self.entries.push((id, value));
            }
        }
    }

    /// Takes stream `id` out.
    pub(super) fn remove(&mut self, id: &StreamId) -> Option<V> {
        let at = self.find(*id).ok()?;
        Some(self.entries.remove(at).1)
    }

    /// How many are open.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is open.
    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every open stream, to change.
    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}

impl<V> std::ops::Index<&StreamId> for OpenStreams<V> {
    type Output = V;

    fn index(&self, id: &StreamId) -> &V {
        self.get(id).expect("an open stream")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_id_order_whatever_the_order_of_inserts() {
        let mut open = OpenStreams::default();
        for id in [5, 1, 9, 3, 7] {
            open.insert(id, id * 10);
        }
        open.insert(3, 31);
        assert_eq!(open.len(), 5);
        assert_eq!(open.entries.iter().map(|&(id, _)| id).collect::<Vec<_>>(), [1, 3, 5, 7, 9]);
        assert_eq!((open.get(&3), open.get(&4)), (Some(&31), None));
        assert_eq!(open.remove(&1), Some(10));
        assert_eq!(open.remove(&7), Some(70));
        assert_eq!(open.remove(&7), None);
        assert!(!open.contains_key(&7) && open.contains_key(&9));
        *open.get_mut(&9).unwrap() += 1;
        assert_eq!(open[&9], 91);
        open.values_mut().for_each(|v| *v = 0);
        assert_eq!(open.entries.iter().map(|&(_, v)| v).sum::<u32>(), 0);
        open.remove(&3);
        open.remove(&5);
        open.remove(&9);
        assert!(open.is_empty());
    }
}
