//! The dialect's actions.

/// The API version of the dialect.
pub const VERSION: &str = "2023-01-01";

/// The service name: `Service` in responses, the signing scope's service.
pub const SERVICE: &str = "live";

/// The pull-to-push, group and ingest-control actions of Volcengine Live 2023-01-01.
/// Names are case-sensitive, as the gateway's are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    CreatePullToPushTask,
    ListPullToPushTask,
    ListPullToPushTaskV2,
    UpdatePullToPushTask,
    StopPullToPushTask,
    RestartPullToPushTask,
    ContinuePullToPushTask,
    RelaunchPullToPushTask,
    DeletePullToPushTask,
    CreatePullToPushGroup,
    UpdatePullToPushGroup,
    DeletePullToPushGroup,
    ListPullToPushGroup,
    ForbidStream,
    ResumeStream,
    KillStream,
    DescribeForbiddenStreamInfoByPage,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 17] = [
        Action::CreatePullToPushTask,
        Action::ListPullToPushTask,
        Action::ListPullToPushTaskV2,
        Action::UpdatePullToPushTask,
        Action::StopPullToPushTask,
        Action::RestartPullToPushTask,
        Action::ContinuePullToPushTask,
        Action::RelaunchPullToPushTask,
        Action::DeletePullToPushTask,
        Action::CreatePullToPushGroup,
        Action::UpdatePullToPushGroup,
        Action::DeletePullToPushGroup,
        Action::ListPullToPushGroup,
        Action::ForbidStream,
        Action::ResumeStream,
        Action::KillStream,
        Action::DescribeForbiddenStreamInfoByPage,
    ];

    /// The wire name (`Action` query parameter).
    pub fn name(self) -> &'static str {
        match self {
            Action::CreatePullToPushTask => "CreatePullToPushTask",
            Action::ListPullToPushTask => "ListPullToPushTask",
            Action::ListPullToPushTaskV2 => "ListPullToPushTaskV2",
            Action::UpdatePullToPushTask => "UpdatePullToPushTask",
            Action::StopPullToPushTask => "StopPullToPushTask",
            Action::RestartPullToPushTask => "RestartPullToPushTask",
            Action::ContinuePullToPushTask => "ContinuePullToPushTask",
            Action::RelaunchPullToPushTask => "RelaunchPullToPushTask",
            Action::DeletePullToPushTask => "DeletePullToPushTask",
            Action::CreatePullToPushGroup => "CreatePullToPushGroup",
            Action::UpdatePullToPushGroup => "UpdatePullToPushGroup",
            Action::DeletePullToPushGroup => "DeletePullToPushGroup",
            Action::ListPullToPushGroup => "ListPullToPushGroup",
            Action::ForbidStream => "ForbidStream",
            Action::ResumeStream => "ResumeStream",
            Action::KillStream => "KillStream",
            Action::DescribeForbiddenStreamInfoByPage => "DescribeForbiddenStreamInfoByPage",
        }
    }

    /// The action of a wire name.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The action a key's policy must allow: `live:<Action>` (the same namespace as the
    /// Alibaba dialect's actions, so one policy language covers both).
    pub fn ram_action(self) -> String {
        format!("live:{}", self.name())
    }

    /// Whether the SDK sends the action as a GET with parameters in the query
    /// (ListPullToPushTask, DescribeForbiddenStreamInfoByPage). Both accept a POST with a
    /// JSON body too (the legacy client's way); every other action is POST-only.
    pub fn allows_get(self) -> bool {
        matches!(
            self,
            Action::ListPullToPushTask | Action::DescribeForbiddenStreamInfoByPage
        )
    }

    /// Whether the action changes state, so that a signed request of it runs at most once:
    /// the dialect's signature has no nonce and a one-second X-Date, so a byte-identical
    /// re-send within the window gets the first answer without running again
    /// ([`crate::Replay::once`]) — a captured Stop cannot re-stop a task continued since, and an
    /// honest retry of the same bytes still gets its answer. The reads (the lists) need
    /// nothing: repeating one changes nothing.
    pub fn replay_protected(self) -> bool {
        !matches!(
            self,
            Action::ListPullToPushTask
                | Action::ListPullToPushTaskV2
                | Action::ListPullToPushGroup
                | Action::DescribeForbiddenStreamInfoByPage
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(a));
        }
        assert_eq!(Action::from_name("stoppulltopushtask"), None);
        assert_eq!(Action::from_name("CreateLivePullToPush"), None);
    }
}
