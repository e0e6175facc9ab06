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

/// The container a rollout gives the new image when the task definition has several and the
/// target names none: the name `bootstrap`'s examples and the sample app use.
pub const DEFAULT_CONTAINER: &str = "app";

/// Which of a task definition's containers (`names`, in its order) an ECS rollout changes: the
/// one the target names, else the only one, else the one named [`DEFAULT_CONTAINER`]. One rule
/// for `bootstrap plan`'s check and the deploy-handler, so a target `plan` accepts is one every
/// deploy can roll out. The error lists the containers and says how to name one.
pub fn pick_container(
    names: &[&str],
    named: Option<&str>,
    cluster: &str,
    service: &str,
) -> Result<usize, String> {
    let listed = if names.is_empty() {
        "no containers".to_owned()
    } else {
        names.join(", ")
    };
    let how = format!("name the one to update: --deploy-target ecs:{cluster}/{service}/CONTAINER");
    match named {
        Some(wanted) => names.iter().position(|n| *n == wanted).ok_or_else(|| {
            format!("the task definition has no container `{wanted}` (it has {listed}); {how}")
        }),
        None if names.len() == 1 => Ok(0),
        None => names
            .iter()
            .position(|n| *n == DEFAULT_CONTAINER)
            .ok_or_else(|| {
                format!(
                    "the task definition has {} containers and none is named `{DEFAULT_CONTAINER}` (it has \
                     {listed}); {how}",
                    names.len()
                )
            }),
    }
}

/// Why a rollout cannot update an ECS service deployed by `controller` (DescribeServices'
/// `deploymentController.type`), and what to do instead; `None` for ECS's own controller.
/// ECS API Reference, UpdateService: for the blue/green (`CODE_DEPLOY`) controller "If the
/// network configuration, platform version, task definition, or load balancer need to be updated,
/// create a new CodeDeploy deployment", and ECS answers `InvalidParameterException: Unable to update
/// task definition on services with a CODE_DEPLOY deployment controller` (fabfuel/ecs-deploy#175);
/// for an `EXTERNAL` controller "If the launch type, load balancer, network configuration, platform
/// version, or task definition need to be updated, create a new task set" (ECS Developer Guide,
/// "Deploy Amazon ECS services using a third-party controller"). A service can be moved to the ECS
/// controller with UpdateService's `deploymentController` (ECS Developer Guide, "Troubleshooting
/// Amazon ECS deployment strategy updates").
pub fn unsupported_controller(controller: &str, cluster: &str, service: &str) -> Option<String> {
    let switch = format!(
        "or switch the service to the ECS controller (aws ecs update-service --cluster {cluster} --service {service} \
         --deployment-controller type=ECS)"
    );
    match controller {
        "CODE_DEPLOY" => Some(format!(
            "ECS service {service} (cluster {cluster}) uses the CODE_DEPLOY (blue/green) deployment controller: ECS \
             refuses to change its task definition with UpdateService (\"Unable to update task definition on services \
             with a CODE_DEPLOY deployment controller\"), CodeDeploy deploys it. Deploy it with CodeDeploy's own \
             CodePipeline action (provider CodeDeployToECS) instead of --deploy-target, {switch}"
        )),
        "EXTERNAL" => Some(format!(
            "ECS service {service} (cluster {cluster}) uses the EXTERNAL deployment controller: its tasks run in task \
             sets that its own controller creates (CreateTaskSet), and UpdateService cannot change its task definition. \
             Let that controller deploy the image instead of --deploy-target, {switch}"
        )),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_container_is_the_named_one_the_only_one_or_app() {
        let sidecars = ["log_router", "app", "datadog-agent"];
        assert_eq!(pick_container(&sidecars, None, "prod", "web"), Ok(1));
        assert_eq!(
            pick_container(&sidecars, Some("log_router"), "prod", "web"),
            Ok(0)
        );
        assert_eq!(pick_container(&["web"], None, "prod", "web"), Ok(0));
        let missing = pick_container(&sidecars, Some("api"), "prod", "web").unwrap_err();
        assert!(
            missing.contains("no container `api` (it has log_router, app, datadog-agent)")
                && missing.contains("--deploy-target ecs:prod/web/CONTAINER"),
            "{missing}"
        );
        let unnamed = pick_container(&["web", "envoy"], None, "prod", "web").unwrap_err();
        assert!(
            unnamed.contains("2 containers and none is named `app` (it has web, envoy)")
                && unnamed.contains("ecs:prod/web/CONTAINER"),
            "{unnamed}"
        );
    }

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
