//! The consensus rule: one probability per candle from the calibrated methods.
//!
//! Methods that look at the same thing are not independent witnesses (`pct_change`, `zscore`
//! and `iqr` all measure the same return), so they are grouped by the evidence they weigh and a
//! group speaks with its smallest `p`. The groups present on a candle are combined with the
//! weighted Simes rule: each group `g` has a weight `w_g` (renormalised over the groups that
//! judged the candle), groups are ordered by `p_g / w_g`, and
//!
//! `p = min over r of p₍r₎ / (w₍₁₎ + … + w₍r₎)`
//!
//! With equal weights this is Simes' `min G · p₍r₎ / r`. With one extreme group it is a
//! weighted union bound `p_g / w_g`, so one noisy group cannot raise more alarms than its
//! share; when several groups are extreme together (a price move with a volume spike, a bad
//! tick the forest also isolates) the later terms can be smaller, so agreement scores higher.
//! Unlike a product of p-values it stays a valid probability when groups move together, as
//! they do here (a big return is also a big deviation from the average and comes with volume):
//! Simes' test holds under positive dependence. A product rule (`G(G−1)/2 · p₍₂₎²`) was
//! measured first and flagged ten times its nominal rate on quiet series for that reason.
//!
//! The weights ([`weight`]) put most of the error budget on the price group, whose methods
//! were the most reliable on the tuning seeds of the evaluation suite, and little on the
//! methods that raised most false alarms there (the forest, the indicators).

use super::Group;

/// One group's verdict on a candle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupP {
    /// The group the verdict speaks for; each group counts once, however many methods it has.
    pub group: Group,
    /// The group's combined tail probability for the candle, in `(0, 1]`.
    pub p: f64,
}

/// The share of the error budget each group gets (before renormalising over the groups that
/// judged a candle).
pub fn weight(group: Group) -> f64 {
    match group {
        Group::Price => 0.5,
        Group::Level => 0.15,
        Group::Volume => 0.15,
        Group::Volatility => 0.1,
        Group::Multivariate => 0.1,
        Group::Feed => 0.1,
    }
}

/// The consensus probability of a candle from its groups' smallest `p`; `None` when no group
/// judged it.
pub fn combine(groups: &[GroupP]) -> Option<f64> {
    if groups.is_empty() {
        return None;
    }
    let total: f64 = groups.iter().map(|g| weight(g.group)).sum();
    let mut weighted: Vec<(f64, f64)> = groups
        .iter()
        .map(|g| (g.p, weight(g.group) / total))
        .collect();
    weighted.sort_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)));
    let mut cumulative = 0.0;
    let mut p: f64 = 1.0;
    for (p_g, w) in weighted {
        cumulative += w;
        p = p.min(p_g / cumulative);
    }
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
    fn one_group_is_corrected_for_its_share_of_the_groups() {
        let groups = by_group([
            (Group::Price, 1e-4),
            (Group::Price, 1e-3),
            (Group::Volume, 0.5),
        ]);
        assert_eq!(groups.len(), 2);
        let share = weight(Group::Price) / (weight(Group::Price) + weight(Group::Volume));
        let p = combine(&groups).expect("judged");
        assert!((p - 1e-4 / share).abs() < 1e-15, "{p}");
    }

    #[test]
    fn equal_weights_give_simes() {
        let groups = by_group([(Group::Level, 0.02), (Group::Volume, 0.01)]);
        // Level and volume weigh the same: min(2 · 0.01, 2 · 0.02 / 2) = 0.02.
        let p = combine(&groups).expect("judged");
        assert!((p - 0.02).abs() < 1e-15, "{p}");
    }

    #[test]
    fn two_groups_agreeing_are_rarer_than_either() {
        let groups = by_group([
            (Group::Price, 1e-3),
            (Group::Volume, 1e-3),
            (Group::Multivariate, 0.9),
        ]);
        let p = combine(&groups).expect("judged");
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
        // Price first (0.9 / 0.77), then both: 0.8 / 1.
        let p = combine(&calm).expect("judged");
        assert!((p - 0.8).abs() < 1e-12, "{p}");
        assert_eq!(combine(&by_group([(Group::Feed, 1.0)])), Some(1.0));
    }
}
