//! The traffic shift grammar of a Lambda alias rollout (UserParameters `trafficShift`): one rule
//! for the deploy-handler, which runs the shift, and the bootstrap, which validates
//! `--traffic-shift` and checks the shift ends inside the rollout's bound.

use std::time::Duration;

/// Longest wait between two steps: a shift must end inside the job's rollout bound, at most
/// CodePipeline's 24 hours for the action.
pub const MAX_STEP_MINUTES: u32 = 24 * 60;

/// How the alias's traffic moves to the new version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrafficShift {
    /// The alias moves at once (the default).
    #[default]
    AllAtOnce,
    /// `percent` of the traffic for `minutes`, then all of it.
    Canary { percent: u8, minutes: u32 },
    /// `percent` more of the traffic every `minutes` until all of it.
    Linear { percent: u8, minutes: u32 },
}

impl TrafficShift {
    /// `all-at-once`, `canaryP-Mm` or `linearP-Mm` (P 1-99 percent, M 1-1440 minutes).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let accepted = "accepted: all-at-once, canaryP-Mm or linearP-Mm with P a percentage of 1-99 and M \
                        minutes of 1-1440 (canary10-5m: 10% for 5 minutes, then all; linear25-2m: 25% more \
                        every 2 minutes)";
        if raw == "all-at-once" {
            return Ok(Self::AllAtOnce);
        }
        let (kind, rest) = if let Some(rest) = raw.strip_prefix("canary") {
            ("canary", rest)
        } else if let Some(rest) = raw.strip_prefix("linear") {
            ("linear", rest)
        } else {
            return Err(format!("`{raw}` is not a traffic shift; {accepted}"));
        };
        let parsed = rest
            .strip_suffix('m')
            .and_then(|r| r.split_once('-'))
            .and_then(|(p, m)| Some((p.parse::<u8>().ok()?, m.parse::<u32>().ok()?)))
            .filter(|(p, m)| (1..=99).contains(p) && (1..=MAX_STEP_MINUTES).contains(m));
        match (kind, parsed) {
            ("canary", Some((percent, minutes))) => Ok(Self::Canary { percent, minutes }),
            (_, Some((percent, minutes))) => Ok(Self::Linear { percent, minutes }),
            (_, None) => Err(format!("`{raw}` is not a traffic shift; {accepted}")),
        }
    }

    /// The weight (percent) of the first step, or None when the alias moves at once.
    pub fn first_weight(self) -> Option<u8> {
        match self {
            Self::AllAtOnce => None,
            Self::Canary { percent, .. } | Self::Linear { percent, .. } => Some(percent),
        }
    }

    /// The weight after `weight`; 100 means the new version takes all traffic.
    pub fn next_weight(self, weight: u8) -> u8 {
        match self {
            Self::Linear { percent, .. } => weight.saturating_add(percent).min(100),
            Self::AllAtOnce | Self::Canary { .. } => 100,
        }
    }

    /// The wait after each step but the last.
    pub fn wait(self) -> Duration {
        match self {
            Self::AllAtOnce => Duration::ZERO,
            Self::Canary { minutes, .. } | Self::Linear { minutes, .. } => {
                Duration::from_secs(u64::from(minutes) * 60)
            }
        }
    }

    /// The waits of a whole shift, for checking it fits the rollout's bound.
    pub fn total_wait(self) -> Duration {
        match self {
            Self::AllAtOnce => Duration::ZERO,
            Self::Canary { .. } => self.wait(),
            Self::Linear { percent, .. } => {
                let steps = u32::from(100_u8.div_ceil(percent)).saturating_sub(1);
                self.wait() * steps
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn shifts_parse_and_say_how_long_they_wait() {
        assert_eq!(
            TrafficShift::parse("all-at-once").unwrap(),
            TrafficShift::AllAtOnce
        );
        let canary = TrafficShift::parse("canary10-5m").unwrap();
        assert_eq!(
            canary,
            TrafficShift::Canary {
                percent: 10,
                minutes: 5
            }
        );
        assert_eq!(canary.total_wait(), Duration::from_secs(300));
        let linear = TrafficShift::parse("linear25-2m").unwrap();
        // 25, 50, 75 then 100: three waits
        assert_eq!(linear.total_wait(), Duration::from_secs(360));
        assert_eq!(
            TrafficShift::parse("linear30-1m").unwrap().total_wait(),
            Duration::from_secs(180)
        );
        for bad in [
            "canary10-5",
            "canary10m",
            "linear-5m",
            "canary99-1441m",
            "Canary10-5m",
            "",
        ] {
            assert!(TrafficShift::parse(bad).is_err(), "{bad}");
        }
    }
}
