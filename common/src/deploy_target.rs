//! Where the deploy-handler rolls the built image out: bootstrap's `--deploy-target`, the
//! function's `DEPLOY_TARGET`. One syntax for both, parsed in one place.

/// Where the image goes, as `DEPLOY_TARGET` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeployTarget {
    /// `ecs:CLUSTER/SERVICE[/CONTAINER]`.
    Ecs {
        cluster: String,
        service: String,
        container: Option<String>,
    },
    /// `lambda:FUNCTION[:ALIAS]`.
    Lambda {
        function: String,
        alias: Option<String>,
    },
}

impl DeployTarget {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let fix = "write ecs:CLUSTER/SERVICE[/CONTAINER] or lambda:FUNCTION[:ALIAS]";
        let name_ok = |part: &str| {
            !part.is_empty()
                && part.len() <= 255
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if let Some(rest) = raw.strip_prefix("ecs:") {
            let parts: Vec<&str> = rest.split('/').collect();
            return match parts.as_slice() {
                [cluster, service] | [cluster, service, _]
                    if name_ok(cluster) && name_ok(service) =>
                {
                    let container = parts.get(2).map(|c| (*c).to_owned());
                    if container.as_deref().is_some_and(|c| !name_ok(c)) {
                        return Err(format!(
                            "deploy target `{raw}`: the container name is not valid; {fix}"
                        ));
                    }
                    Ok(Self::Ecs {
                        cluster: (*cluster).to_owned(),
                        service: (*service).to_owned(),
                        container,
                    })
                }
                _ => Err(format!(
                    "deploy target `{raw}` is not an ECS service by cluster and service name; {fix}"
                )),
            };
        }
        if let Some(rest) = raw.strip_prefix("lambda:") {
            let (function, alias) = match rest.split_once(':') {
                Some((function, alias)) => (function, Some(alias)),
                None => (rest, None),
            };
            if !name_ok(function) || alias.is_some_and(|a| !name_ok(a)) {
                return Err(format!(
                    "deploy target `{raw}` is not a function name with an optional alias; {fix}"
                ));
            }
            return Ok(Self::Lambda {
                function: function.to_owned(),
                alias: alias.map(str::to_owned),
            });
        }
        Err(format!("deploy target `{raw}` has no kind; {fix}"))
    }

    /// The target as people read it in summaries and notifications.
    pub fn describe(&self) -> String {
        match self {
            Self::Ecs {
                cluster, service, ..
            } => format!("ECS service {service} (cluster {cluster})"),
            Self::Lambda {
                function,
                alias: Some(alias),
            } => format!("Lambda function {function} (alias {alias})"),
            Self::Lambda {
                function,
                alias: None,
            } => format!("Lambda function {function}"),
        }
    }

    /// `DEPLOY_TARGET`'s form, for the `TARGET` output variable.
    pub fn spec(&self) -> String {
        match self {
            Self::Ecs {
                cluster,
                service,
                container,
            } => match container {
                Some(c) => format!("ecs:{cluster}/{service}/{c}"),
                None => format!("ecs:{cluster}/{service}"),
            },
            Self::Lambda { function, alias } => match alias {
                Some(a) => format!("lambda:{function}:{a}"),
                None => format!("lambda:{function}"),
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_back() {
        for raw in [
            "ecs:prod/web",
            "ecs:prod/web/app",
            "lambda:api",
            "lambda:api:live",
        ] {
            assert_eq!(DeployTarget::parse(raw).unwrap().spec(), raw);
        }
        assert_eq!(
            DeployTarget::parse("ecs:prod/web/app").unwrap(),
            DeployTarget::Ecs {
                cluster: "prod".into(),
                service: "web".into(),
                container: Some("app".into())
            }
        );
        for bad in [
            "ecs:prod",
            "ecs:/web",
            "ecs:a/b/c/d",
            "lambda:",
            "lambda:f:",
            "k8s:x",
            "web",
            "ecs:arn:aws:ecs:x/y",
        ] {
            let err = DeployTarget::parse(bad).unwrap_err();
            assert!(err.contains("ecs:CLUSTER/SERVICE"), "{bad}: {err}");
        }
    }
}
