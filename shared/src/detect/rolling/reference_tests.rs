//! Every rolling statistic against values computed independently by
//! `tests/reference/make_fixtures.py` (TA-Lib, and numpy over explicit windows), to 1e-9
//! relative.

use serde_json::Value;

use super::*;

const FIXTURE: &str = include_str!("../../../../tests/reference/rolling.json");
const TOLERANCE: f64 = 1e-9;

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).expect("the fixture is JSON")
}

fn column(value: &Value) -> Vec<Option<f64>> {
    value
        .as_array()
        .expect("a column is an array")
        .iter()
        .map(Value::as_f64)
        .collect()
}

fn numbers(value: &Value) -> Vec<f64> {
    column(value)
        .into_iter()
        .map(|v| v.expect("inputs have no gaps"))
        .collect()
}

fn usize_of(value: &Value) -> usize {
    value.as_u64().expect("a count") as usize
}

/// Asserts that `ours` has a value exactly where the reference has one, and that it is close.
fn assert_matches(name: &str, ours: &[Option<f64>], reference: &[Option<f64>]) {
    assert_eq!(ours.len(), reference.len(), "{name}: length");
    let mut compared = 0;
    for (i, (a, b)) in ours.iter().zip(reference).enumerate() {
        match (a, b) {
            (Some(a), Some(b)) => {
                let scale = b.abs().max(1e-300);
                assert!(
                    (a - b).abs() / scale <= TOLERANCE || (a - b).abs() <= 1e-12,
                    "{name}[{i}]: ours {a}, reference {b}"
                );
                compared += 1;
            }
            (None, None) => {}
            _ => panic!("{name}[{i}]: ours {a:?}, reference {b:?}"),
        }
    }
    assert!(compared > 1000, "{name}: only {compared} values compared");
}

#[test]
fn sma_ema_and_rolling_moments_match_the_reference() {
    let f = fixture();
    let prices = numbers(&f["prices"]);
    let window = usize_of(&f["window"]);
    let mut sma = Sma::new(window);
    let mut ema = Ema::new(window);
    let mut moments = RollingMoments::new(window);
    let (mut s, mut e, mut mean, mut std) = (vec![], vec![], vec![], vec![]);
    for &p in &prices {
        s.push(sma.push(p));
        e.push(ema.push(p));
        moments.push(p);
        let full = moments.is_full();
        mean.push(moments.mean().filter(|_| full));
        std.push(moments.std(1).filter(|_| full));
    }
    assert_matches("sma", &s, &column(&f["sma"]));
    assert_matches("ema", &e, &column(&f["ema"]));
    assert_matches("rolling_mean", &mean, &column(&f["rolling_mean"]));
    assert_matches("rolling_std", &std, &column(&f["rolling_std"]));
}

#[test]
fn wilder_rsi_and_bollinger_bands_match_ta_lib() {
    let f = fixture();
    let prices = numbers(&f["prices"]);
    let mut rsi = WilderRsi::new(usize_of(&f["rsi_period"]));
    let k = f["band_k"].as_f64().expect("band k");
    let mut bands = Bollinger::new(usize_of(&f["window"]), k);
    let (mut r, mut upper, mut middle, mut lower) = (vec![], vec![], vec![], vec![]);
    for &p in &prices {
        r.push(rsi.push(p));
        let b = bands.push(p);
        upper.push(b.map(|b| b.upper));
        middle.push(b.map(|b| b.middle));
        lower.push(b.map(|b| b.lower));
    }
    assert_matches("rsi", &r, &column(&f["rsi"]));
    assert_matches("bollinger.upper", &upper, &column(&f["bollinger"]["upper"]));
    assert_matches(
        "bollinger.middle",
        &middle,
        &column(&f["bollinger"]["middle"]),
    );
    assert_matches("bollinger.lower", &lower, &column(&f["bollinger"]["lower"]));
}

#[test]
fn rolling_median_mad_and_quantiles_match_numpy_for_both_window_parities() {
    let f = fixture();
    let cases = f["order"].as_object().expect("order cases");
    assert_eq!(cases.len(), 4);
    for (name, case) in cases {
        let series = numbers(&f[case["series"].as_str().expect("series name")]);
        let window = usize_of(&case["window"]);
        let index = RankIndex::new(series.iter().copied());
        let mut order = OrderWindow::new(&index, window);
        let (mut median, mut mad, mut q25, mut q75) = (vec![], vec![], vec![], vec![]);
        for &x in &series {
            assert!(order.push(x));
            let full = order.is_full();
            let mm = order.median_mad().filter(|_| full);
            median.push(mm.map(|(m, _)| m));
            mad.push(mm.map(|(_, d)| d));
            q25.push(order.quantile(0.25).filter(|_| full));
            q75.push(order.quantile(0.75).filter(|_| full));
        }
        assert_matches(&format!("{name}.median"), &median, &column(&case["median"]));
        assert_matches(&format!("{name}.mad"), &mad, &column(&case["mad"]));
        assert_matches(&format!("{name}.q25"), &q25, &column(&case["q25"]));
        assert_matches(&format!("{name}.q75"), &q75, &column(&case["q75"]));
    }
}
