//! A seeded generator of labelled, market-like series.
//!
//! Returns follow a GARCH(1,1) process with Student-t (ν = 4) innovations, so they are heavy
//! tailed and their volatility clusters; volume is log-normal, persistent, and rises with the
//! size of the move. Three markets: crypto trading 24/7 (5-minute or hourly candles, with the
//! odd missing candle), a stock's hourly candles in a 7-hour session (a gap every night and a
//! longer one every weekend, whose returns are wider than in-session ones) and a stock's daily
//! candles (weekends). Prices start anywhere from 1e-8 to 1e7.
//!
//! Into a series go labelled anomalies, each of at least 6 local standard deviations where it
//! is a price move, spaced far apart: a jump, a jump right after a gap, a flash crash that
//! recovers, a level shift spread over three candles, a volatility burst, a volume spike
//! without a price move, a frozen (stale) feed, and a bad tick that reverts. Quiet series have
//! none (they measure false alarms); flat series never move (they must give no finding at all).

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc, Weekday};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal, StudentT};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

use crate::model::{Candle, Interval, Provider, Symbol};

/// Where and how a series trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Market {
    /// 24/7 on 5-minute candles.
    Crypto5m,
    /// 24/7 on hourly candles.
    Crypto1h,
    /// Hourly candles 14:00–20:00 UTC on weekdays.
    StockHourly,
    /// Daily candles on weekdays.
    StockDaily,
}

impl Market {
    /// Every market, in the order the suite generates them.
    pub const ALL: [Market; 4] = [
        Market::Crypto5m,
        Market::Crypto1h,
        Market::StockHourly,
        Market::StockDaily,
    ];

    /// The candle interval the market's series are generated at.
    pub fn interval(self) -> Interval {
        match self {
            Self::Crypto5m => Interval::FiveMinutes,
            Self::Crypto1h | Self::StockHourly => Interval::OneHour,
            Self::StockDaily => Interval::OneDay,
        }
    }

    /// Long-run standard deviation of one in-session candle's log return.
    fn volatility(self) -> f64 {
        match self {
            Self::Crypto5m => 0.002,
            Self::Crypto1h => 0.006,
            Self::StockHourly => 0.004,
            Self::StockDaily => 0.014,
        }
    }

    /// Whether a candle opens at `t`.
    fn trades_at(self, t: DateTime<Utc>) -> bool {
        let weekday = !matches!(t.weekday(), Weekday::Sat | Weekday::Sun);
        match self {
            Self::Crypto5m | Self::Crypto1h => true,
            Self::StockHourly => weekday && (14..=20).contains(&t.hour()),
            Self::StockDaily => weekday,
        }
    }

    /// Short name used in series names and the misses table, e.g. `stock-1d`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Crypto5m => "crypto-5m",
            Self::Crypto1h => "crypto-1h",
            Self::StockHourly => "stock-1h",
            Self::StockDaily => "stock-1d",
        }
    }
}

/// What was injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Injection {
    /// One candle's return of ±`sigmas` local standard deviations.
    Jump,
    /// A jump on the first candle after a gap (a night, a weekend), widened like a gap return.
    JumpAfterGap,
    /// A fall of `sigmas` σ, recovered over the next 2–5 candles.
    FlashCrash,
    /// A move of `sigmas` σ spread evenly over three candles, and kept.
    LevelShift,
    /// Returns five times their usual size for 10–30 candles.
    VolatilityBurst,
    /// One candle with 10–30 times the usual volume and an ordinary price.
    VolumeSpike,
    /// The price frozen (close = previous close, no range) for 8–40 candles.
    StaleFeed,
    /// One close off by 8–40σ that the next candle does not follow: a wrong print.
    BadTick,
}

impl Injection {
    /// Every kind, in the order the table lists them.
    pub const ALL: [Injection; 8] = [
        Injection::Jump,
        Injection::JumpAfterGap,
        Injection::FlashCrash,
        Injection::LevelShift,
        Injection::VolatilityBurst,
        Injection::VolumeSpike,
        Injection::StaleFeed,
        Injection::BadTick,
    ];

    /// Whether the anomaly is one candle's price move of at least 6σ (the recall aim).
    pub fn is_big_move(self) -> bool {
        matches!(
            self,
            Self::Jump | Self::JumpAfterGap | Self::FlashCrash | Self::BadTick
        )
    }

    /// The name the table prints, e.g. `jump after gap`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jump => "jump",
            Self::JumpAfterGap => "jump after gap",
            Self::FlashCrash => "flash crash",
            Self::LevelShift => "level shift",
            Self::VolatilityBurst => "volatility burst",
            Self::VolumeSpike => "volume spike",
            Self::StaleFeed => "stale feed",
            Self::BadTick => "bad tick",
        }
    }
}

/// One labelled anomaly: candles `start ..= end` of the series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Label {
    /// What was injected there.
    pub kind: Injection,
    /// Index of the first candle affected.
    pub start: usize,
    /// Index of the last candle affected (inclusive).
    pub end: usize,
    /// Size of the price move as injected (0 where there is none): in local standard
    /// deviations for jumps and flash crashes, in the market's long-run one for bad ticks.
    pub sigmas: f64,
    /// The same move in units of the conditional (local) σ of the return it lands on, gap
    /// spread included: what a volatility-aware reader sees. 0 where there is no price move.
    pub local_sigmas: f64,
    /// The same move in units of the market's long-run σ (gap spread included).
    pub long_run_sigmas: f64,
}

/// What a series is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// With injected anomalies.
    Labelled,
    /// Without: every alert is false.
    Quiet,
    /// A price that never moves: nothing may be found.
    Flat,
}

/// A generated series with its labels.
#[derive(Debug, Clone)]
pub struct LabelledSeries {
    /// `<market>-<role>-<seed>`, e.g. `crypto-5m-labelled-7`; also the candles' symbol.
    pub name: String,
    /// The market it imitates: interval, trading hours and volatility.
    pub market: Market,
    /// Whether it carries anomalies, none, or no movement at all.
    pub role: Role,
    /// The series, oldest first, as the store would return it.
    pub candles: Vec<Candle>,
    /// The injected anomalies, by start; empty for quiet and flat series.
    pub labels: Vec<Label>,
}

/// Candles before the first injection: the methods' windows and calibration fill first.
pub const WARM_UP: usize = 1_300;

struct Bar {
    open_time: DateTime<Utc>,
    /// Log close.
    x: f64,
    open: f64,
    high_wick: f64,
    low_wick: f64,
    volume: Option<f64>,
    /// High = low = close = open (a frozen feed).
    frozen: bool,
}

/// The open times of `count` candles of `market` from `start`.
fn times(
    market: Market,
    start: DateTime<Utc>,
    count: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<DateTime<Utc>> {
    let step = market.interval().duration();
    let mut t = market.interval().bucket_start(start);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        if market.trades_at(t) {
            // 24/7 feeds miss the odd candle.
            let missing =
                matches!(market, Market::Crypto5m | Market::Crypto1h) && rng.random_bool(0.002);
            if !missing {
                out.push(t);
            }
        }
        t += step;
    }
    out
}

/// Generates one series. `seed` fixes everything.
pub fn generate(seed: u64, market: Market, role: Role, count: usize) -> LabelledSeries {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7A3E_11D5_C0FF_EE00);
    let start = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let times = times(market, start, count, &mut rng);
    let level = 10f64.powf(rng.random_range(-8.0..7.0));
    let name = format!("{}-{:?}-{seed}", market.name(), role).to_lowercase();
    if role == Role::Flat {
        let candles = times
            .iter()
            .map(|t| candle(&name, market, *t, level, level, level, level, Some(1_000.0)))
            .collect();
        return LabelledSeries {
            name,
            market,
            role,
            candles,
            labels: Vec::new(),
        };
    }
    let student = StudentT::new(4.0).unwrap_or_else(|_| StudentT::new(5.0).expect("valid"));
    // Student-t(4) has variance 2: scale it to 1.
    let shock = |rng: &mut ChaCha8Rng| student.sample(rng) / 2f64.sqrt();
    let normal = |rng: &mut ChaCha8Rng| -> f64 { StandardNormal.sample(rng) };
    let sigma = market.volatility();
    let (alpha, beta) = (0.08, 0.90);
    let omega = sigma * sigma * (1.0 - alpha - beta);
    let mut variance = sigma * sigma;
    let mut last = 0.0f64;
    let mut x = level.ln();
    let mut log_volume = 7.0f64;

    let mut labels = plan(&mut rng, role, &times, market);
    labels.sort_by_key(|l| l.start);
    let mut bars: Vec<Bar> = Vec::with_capacity(times.len());
    for (i, t) in times.iter().enumerate() {
        let elapsed = if i == 0 {
            1.0
        } else {
            (*t - times[i - 1]).num_seconds() as f64 / market.interval().seconds() as f64
        };
        // A return across a gap has its own, wider spread: a night is ~2.5 in-session candles,
        // a weekend ~4 (stocks); a missing crypto candle is simply two candles.
        let gap_variance = match market {
            Market::StockHourly if elapsed > 30.0 => 4.0,
            Market::StockHourly if elapsed > 1.0 => 2.5,
            Market::StockDaily if elapsed > 1.0 => 1.3,
            _ => elapsed,
        };
        variance = omega + alpha * last * last + beta * variance;
        let local = variance.sqrt();
        let natural = local * gap_variance.sqrt() * shock(&mut rng);
        let mut r = natural;
        let mut volume_factor = 1.0;
        let mut frozen = false;
        for label in labels.iter_mut().filter(|l| (l.start..=l.end).contains(&i)) {
            let k = label.sigmas;
            if i == label.start && label.kind.is_big_move() {
                // The move's size on the two scales a reader may hold it against.
                let size = match label.kind {
                    Injection::FlashCrash => k * local,
                    Injection::BadTick => k * sigma,
                    _ => k * local * gap_variance.sqrt(),
                };
                label.local_sigmas = size / (local * gap_variance.sqrt());
                label.long_run_sigmas = size / (sigma * gap_variance.sqrt());
            }
            let sign = if (label.start * 7 + seed as usize).is_multiple_of(2) {
                1.0
            } else {
                -1.0
            };
            match label.kind {
                Injection::Jump | Injection::JumpAfterGap if i == label.start => {
                    r = sign * k * local * gap_variance.sqrt();
                }
                Injection::FlashCrash if i == label.start => r = -k * local,
                Injection::FlashCrash => {
                    r = k * local / (label.end - label.start) as f64
                        + 0.3 * local * normal(&mut rng);
                }
                Injection::LevelShift => r = sign * k * local / 3.0,
                Injection::VolatilityBurst => r *= 5.0,
                Injection::VolumeSpike if i == label.start => {
                    volume_factor = rng.random_range(10.0..30.0);
                }
                Injection::StaleFeed if i < label.end => frozen = true,
                _ => {}
            }
        }
        // Injections do not feed the volatility process: a bad tick or a jump is an event, not
        // the start of a volatile regime that would make the candles after it look anomalous too.
        last = natural;
        let open = x;
        // A weak pull towards the starting level keeps a decade of candles inside the price
        // range the generator promises (1e-8 to 1e7), whatever the random walk does.
        x += r - 0.002 * (x - level.ln());
        log_volume = 7.0 + 0.7 * (log_volume - 7.0) + 0.25 * normal(&mut rng);
        let activity = (1.0 + 25.0 * (r.abs() / sigma).min(12.0) * sigma).ln();
        let volume = (market != Market::StockDaily || rng.random_bool(0.999))
            .then(|| (log_volume + activity).exp() * volume_factor);
        bars.push(Bar {
            open_time: *t,
            x,
            open,
            high_wick: normal(&mut rng).abs() * local * 0.5,
            low_wick: normal(&mut rng).abs() * local * 0.5,
            volume: if frozen { Some(0.0) } else { volume },
            frozen,
        });
    }
    // Frozen stretches show the last close before the freeze; bad ticks are a wrong close on one
    // candle that the next candle does not continue from.
    let mut candles = Vec::with_capacity(bars.len());
    let mut held: Option<f64> = None;
    for (i, bar) in bars.iter().enumerate() {
        if bar.frozen {
            let price = *held.get_or_insert_with(|| bars[i.saturating_sub(1)].x.exp());
            candles.push(candle(
                &name,
                market,
                bar.open_time,
                price,
                price,
                price,
                price,
                bar.volume,
            ));
            continue;
        }
        let resumed = held.take();
        let mut close = bar.x;
        let open = resumed.map_or(bar.open, f64::ln);
        if let Some(tick) = labels
            .iter()
            .find(|l| l.kind == Injection::BadTick && l.start == i)
        {
            let sign = if i.is_multiple_of(2) { 1.0 } else { -1.0 };
            close += sign * tick.sigmas * market.volatility();
        }
        let high = open.max(close) + bar.high_wick;
        let low = open.min(close) - bar.low_wick;
        candles.push(candle(
            &name,
            market,
            bar.open_time,
            open.exp(),
            high.exp(),
            low.exp(),
            close.exp(),
            bar.volume,
        ));
    }
    LabelledSeries {
        name,
        market,
        role,
        candles,
        labels,
    }
}

/// Where the anomalies of a labelled series go: every kind once or more, at least
/// `spacing` candles apart, each jump after a gap on the first candle after one.
fn plan(rng: &mut ChaCha8Rng, role: Role, times: &[DateTime<Utc>], market: Market) -> Vec<Label> {
    if role != Role::Labelled {
        return Vec::new();
    }
    let count = times.len();
    let spacing = 300;
    let gaps: Vec<usize> = (1..count)
        .filter(|&i| (times[i] - times[i - 1]) > market.interval().duration())
        .collect();
    let mut labels = Vec::new();
    let mut at = WARM_UP + rng.random_range(0..100);
    let mut kinds = Injection::ALL.iter().cycle().skip(rng.random_range(0..8));
    while at + 60 < count {
        let Some(&kind) = kinds.next() else { break };
        let sigmas = rng.random_range(6.0..14.0);
        let label = match kind {
            Injection::JumpAfterGap => match gaps.iter().find(|&&g| g >= at) {
                Some(&g) if g + 60 < count => Label {
                    kind,
                    start: g,
                    end: g,
                    sigmas,
                    local_sigmas: 0.0,
                    long_run_sigmas: 0.0,
                },
                _ => Label {
                    kind: Injection::Jump,
                    start: at,
                    end: at,
                    sigmas,
                    local_sigmas: 0.0,
                    long_run_sigmas: 0.0,
                },
            },
            Injection::FlashCrash => {
                let recovery = rng.random_range(2..6);
                Label {
                    kind,
                    start: at,
                    end: at + recovery,
                    sigmas: sigmas + 4.0,
                    local_sigmas: 0.0,
                    long_run_sigmas: 0.0,
                }
            }
            Injection::LevelShift => Label {
                kind,
                start: at,
                end: at + 2,
                sigmas: sigmas + 6.0,
                local_sigmas: 0.0,
                long_run_sigmas: 0.0,
            },
            Injection::VolatilityBurst => Label {
                kind,
                start: at,
                end: at + rng.random_range(10..30),
                sigmas: 0.0,
                local_sigmas: 0.0,
                long_run_sigmas: 0.0,
            },
            Injection::VolumeSpike => Label {
                kind,
                start: at,
                end: at,
                sigmas: 0.0,
                local_sigmas: 0.0,
                long_run_sigmas: 0.0,
            },
            Injection::StaleFeed => Label {
                kind,
                start: at,
                end: at + rng.random_range(8..40),
                sigmas: 0.0,
                local_sigmas: 0.0,
                long_run_sigmas: 0.0,
            },
            Injection::BadTick => Label {
                kind,
                start: at,
                end: at + 1,
                sigmas: rng.random_range(8.0..40.0),
                local_sigmas: 0.0,
                long_run_sigmas: 0.0,
            },
            Injection::Jump => Label {
                kind,
                start: at,
                end: at,
                sigmas,
                local_sigmas: 0.0,
                long_run_sigmas: 0.0,
            },
        };
        at = label.end + spacing + rng.random_range(0..spacing);
        labels.push(label);
    }
    labels
}

/// A candle at these prices, rounded to 10 significant digits as a source would send them.
#[allow(clippy::too_many_arguments, reason = "one candle's fields")]
fn candle(
    name: &str,
    market: Market,
    open_time: DateTime<Utc>,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: Option<f64>,
) -> Candle {
    let price = |v: f64| {
        Decimal::from_f64(v)
            .and_then(|d| d.round_sf(10))
            .map(|d| d.normalize())
            .unwrap_or(Decimal::ONE)
    };
    let (open, close) = (price(open), price(close));
    let symbol: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(20)
        .collect::<String>()
        .to_ascii_uppercase();
    Candle {
        symbol: Symbol::parse(&symbol).unwrap_or_else(|_| Symbol::parse("EVAL").expect("valid")),
        interval: market.interval(),
        open_time,
        open,
        high: price(high).max(open).max(close),
        low: price(low).min(open).min(close),
        close,
        volume: volume.and_then(|v| Decimal::from_f64(v).and_then(|d| d.round_dp(3).round_sf(10))),
        source: Provider::Synthetic.into(),
    }
}
