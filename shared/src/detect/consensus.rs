//! The consensus rule: one probability per candle from the calibrated methods.
//!
//! Methods that look at the same thing are not independent witnesses (`pct_change`, `zscore`
//! and `iqr` all measure the same return), so they are grouped by the evidence they weigh and a
//! group speaks with its smallest `p`. Across the `G` groups that judged the candle, sorted so
//! that `p₍₁₎ ≤ p₍₂₎ ≤ … ≤ p₍G₎`, the consensus is Simes' combination
//!
//! `p = min over r of G · p₍r₎ / r`
//!
//! With one extreme group it is the union (Bonferroni) bound `G · p₍₁₎`, so one noisy group
//! cannot raise more alarms than its share; when two groups are extreme together (a price move
//! with a volume spike, a bad tick the forest also isolates) `G · p₍₂₎ / 2` can be smaller, so
//! agreement scores higher. Unlike a product of p-values it stays a valid probability when the
//! groups move together, as they do here (a big return is also a big deviation from the
//! average, and comes with volume): Simes' test holds under positive dependence. A product
//! rule (`G(G−1)/2 · p₍₂₎²`) was measured first and flagged ten times its nominal rate on
//! quiet series for exactly that reason.

use super::Group;

/// One group's verdict on a candle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupP {
    pub group: Group,
    pub p: f64,
}

/// The consensus probability of a candle from its groups' smallest `p`s; `None` when no group
/// judged it.
pub fn combine(groups: &[GroupP]) -> Option<f64> {
    let mut ps: Vec<f64> = groups.iter().map(|g| g.p).collect();
    if ps.is_empty() {
        return None;
    }
    ps.sort_by(f64::total_cmp);
    let g = ps.len() as f64;
    let p = ps
        .iter()
        .enumerate()
        .map(|(r, p)| g * p / (r + 1) as f64)
        .fold(1.0, f64::min);
    Some(p)
}

/// The smallest `p` of each group among `(group, p)` pairs, in group order.
pub fn by_group(readings: impl IntoIterator<Item = (Group, f64)>) -> Vec<GroupP> {
    let mut out: Vec<GroupP> = Vec::new();
    for (group, p) in readings {
        match out.iter_mut().find(|g| g.group == group) {
            Some(existing) => existing.p = existing.p.min(p),
            None => out.push(GroupP { group, p }),
        }
    }
    out.sort_by_key(|g| g.group);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_group_is_corrected_for_the_number_of_groups() {
        let groups = by_group([
            (Group::Price, 1e-4),
            (Group::Price, 1e-3),
            (Group::Volume, 0.5),
        ]);
        assert_eq!(groups.len(), 2);
        assert_eq!(combine(&groups), Some(2e-4));
    }

    #[test]
    fn two_groups_agreeing_are_rarer_than_either() {
        let groups = by_group([
            (Group::Price, 1e-3),
            (Group::Volume, 1e-3),
            (Group::Multivariate, 0.9),
        ]);
        let p = combine(&groups).expect("judged");
        assert!((p - 1.5e-3).abs() < 1e-15, "{p}");
        let alone = by_group([
            (Group::Price, 1e-3),
            (Group::Volume, 0.5),
            (Group::Multivariate, 0.9),
        ]);
        assert!(combine(&alone).expect("judged") > p, "agreement is rarer");
    }

    #[test]
    fn nothing_judged_gives_nothing_and_p_never_exceeds_one() {
        assert_eq!(combine(&[]), None);
        let calm = by_group([(Group::Price, 0.9), (Group::Level, 0.8)]);
        let p = combine(&calm).expect("judged");
        assert!((p - 0.9).abs() < 1e-12, "{p}");
        assert_eq!(combine(&by_group([(Group::Feed, 1.0)])), Some(1.0));
    }
}
