//! The CPU architecture an image is built for and a target runs on, under each service's
//! spelling: Lambda's `Architectures` (`x86_64` | `arm64`, Lambda API Reference,
//! FunctionConfiguration), ECS's `runtimePlatform.cpuArchitecture` (`X86_64` | `ARM64`, ECS API
//! Reference, RuntimePlatform; X86_64 when left out) and the image config's `architecture`
//! (Go's GOARCH names, `amd64` | `arm64`: OCI Image Format Specification, "Image Configuration").

use std::fmt;

/// A CPU architecture Lambda and ECS run containers on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CpuArchitecture {
    X86_64,
    Arm64,
}

impl CpuArchitecture {
    /// Any of the three spellings (case-insensitive), or `aarch64`; None for anything else.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "x86_64" | "amd64" | "x86-64" => Some(Self::X86_64),
            "arm64" | "aarch64" => Some(Self::Arm64),
            _ => None,
        }
    }

    /// The image config's name (GOARCH), which `docker image inspect` and the build record show.
    pub fn goarch(self) -> &'static str {
        match self {
            Self::X86_64 => "amd64",
            Self::Arm64 => "arm64",
        }
    }

    /// `docker build --platform` for a Linux image of this architecture.
    pub fn docker_platform(self) -> &'static str {
        match self {
            Self::X86_64 => "linux/amd64",
            Self::Arm64 => "linux/arm64",
        }
    }

    /// Lambda's name (`Architectures`).
    pub fn lambda_name(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "arm64",
        }
    }

    /// ECS's name (`runtimePlatform.cpuArchitecture`).
    pub fn ecs_name(self) -> &'static str {
        match self {
            Self::X86_64 => "X86_64",
            Self::Arm64 => "ARM64",
        }
    }
}

impl fmt::Display for CpuArchitecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.lambda_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_names_one_architecture() {
        for name in ["x86_64", "X86_64", "amd64", "AMD64"] {
            assert_eq!(CpuArchitecture::parse(name), Some(CpuArchitecture::X86_64));
        }
        for name in ["arm64", "ARM64", "aarch64"] {
            assert_eq!(CpuArchitecture::parse(name), Some(CpuArchitecture::Arm64));
        }
        for name in ["", "arm", "386", "riscv64"] {
            assert_eq!(CpuArchitecture::parse(name), None, "{name}");
        }
        let arm = CpuArchitecture::Arm64;
        assert_eq!(
            (arm.goarch(), arm.docker_platform(), arm.ecs_name()),
            ("arm64", "linux/arm64", "ARM64")
        );
        let x86 = CpuArchitecture::X86_64;
        assert_eq!(
            (x86.goarch(), x86.docker_platform(), x86.lambda_name()),
            ("amd64", "linux/amd64", "x86_64")
        );
    }
}
