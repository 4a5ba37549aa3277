//! The step graph: topological order (stable: file order breaks ties) and cycle
//! detection that returns the cycle's path.

/// Kahn's algorithm; `deps[i]` lists the nodes `i` needs. Returns `None` on a cycle.
pub fn topo_order(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    let n = deps.len();
    let mut indegree: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents = vec![Vec::new(); n];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &d in &dependents[i] {
            indegree[d] -= 1;
            if indegree[d] == 0 {
                ready.insert(d);
            }
        }
    }
    (order.len() == n).then_some(order)
}

/// The depth of each node: 0 for roots, else 1 + the deepest need. Assumes no cycle.
pub fn levels(deps: &[Vec<usize>], order: &[usize]) -> Vec<usize> {
    let mut level = vec![0; deps.len()];
    for &i in order {
        level[i] = deps[i].iter().map(|&d| level[d] + 1).max().unwrap_or(0);
    }
    level
}

/// Everything each node needs, directly or not. Assumes no cycle.
pub fn transitive(deps: &[Vec<usize>]) -> Vec<std::collections::HashSet<usize>> {
    let order = topo_order(deps).unwrap_or_default();
    let mut closure = vec![std::collections::HashSet::new(); deps.len()];
    for &i in &order {
        let mut set = std::collections::HashSet::new();
        for &d in &deps[i] {
            set.insert(d);
            set.extend(closure[d].iter().copied());
        }
        closure[i] = set;
    }
    closure
}

/// Every elementary cycle reachable by DFS, one per back edge, as node paths whose
/// first node is repeated at the end (`a → b → a`). Each cycle is reported once.
pub fn find_cycles(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let n = deps.len();
    let mut mark = vec![Mark::New; n];
    let mut cycles: Vec<Vec<usize>> = Vec::new();
    for root in 0..n {
        if mark[root] != Mark::New {
            continue;
        }
        // Iterative DFS: (node, next dep index).
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = Mark::Active;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&d) = deps[node].get(*next) {
                *next += 1;
                match mark[d] {
                    Mark::New => {
                        mark[d] = Mark::Active;
                        stack.push((d, 0));
                    }
                    Mark::Active => {
                        let from = stack.iter().position(|(s, _)| *s == d).unwrap_or(0);
                        let mut cycle: Vec<usize> = stack[from..].iter().map(|(s, _)| *s).collect();
                        // Normalise the rotation so the same cycle found twice is one.
                        let min = cycle.iter().enumerate().min_by_key(|(_, v)| **v).map_or(0, |(i, _)| i);
                        cycle.rotate_left(min);
                        if !cycles.contains(&cycle) {
                            cycles.push(cycle);
                        }
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    for c in &mut cycles {
        // Read it in the direction of `needs`: a needs b needs … needs a.
        c.push(c[0]);
    }
    cycles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_stably_and_finds_cycles() {
        let deps = vec![vec![], vec![0], vec![0], vec![1, 2]];
        assert_eq!(topo_order(&deps), Some(vec![0, 1, 2, 3]));
        assert_eq!(levels(&deps, &[0, 1, 2, 3]), vec![0, 1, 1, 2]);
        let cyclic = vec![vec![2], vec![0], vec![1], vec![]];
        assert_eq!(topo_order(&cyclic), None);
        assert_eq!(find_cycles(&cyclic), vec![vec![0, 2, 1, 0]]);
        assert_eq!(find_cycles(&[vec![0]]), vec![vec![0, 0]]);
    }
}
