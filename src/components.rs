//! The portal's components, listed once: `portal up`, `portal serve`, `portal migrate`,
//! `portal components` and the test harness all loop over this list.

use portal_common::Component;

/// Everything `portal` is configured with: what every component shares, and each
/// component's own settings.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Config {
    #[command(flatten)]
    pub shared: portal_common::Config,
    #[command(flatten)]
    pub notification: portal_notification::Settings,
    #[command(flatten)]
    pub record: portal_record::Settings,
    #[command(flatten)]
    pub identity: portal_identity::Settings,
    #[command(flatten)]
    pub employment: portal_employment::Settings,
    #[command(flatten)]
    pub document: portal_document::Settings,
    #[command(flatten)]
    pub gateway: portal_gateway::Settings,
}

impl Config {
    /// Every component, in the order they start: the gateway, which the public reaches, last.
    /// All listen before any starts, so components may call each other both ways (the record
    /// service sends email; the notification service follows the record's changes).
    pub fn components(&self) -> [&dyn Component; 6] {
        [
            &self.notification,
            &self.record,
            &self.identity,
            &self.employment,
            &self.document,
            &self.gateway,
        ]
    }

    /// Every component, to change before they start; in the order of [`Self::components`].
    pub fn components_mut(&mut self) -> [&mut dyn Component; 6] {
        [
            &mut self.notification,
            &mut self.record,
            &mut self.identity,
            &mut self.employment,
            &mut self.document,
            &mut self.gateway,
        ]
    }

    /// The component called `name`.
    pub fn component(&self, name: &str) -> anyhow::Result<&dyn Component> {
        let components = self.components();
        components
            .iter()
            .find(|c| c.name() == name)
            .copied()
            .ok_or_else(|| {
                let names: Vec<_> = components.iter().map(|c| c.name()).collect();
                anyhow::anyhow!(
                    "there is no component {name:?}: the components are {}",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    fn config() -> Config {
        Cli::parse_from(["portal"]).config
    }

    #[test]
    fn components_call_only_components_and_the_gateway_starts_last() {
        let config = config();
        let order: Vec<_> = config.components().iter().map(|c| c.name()).collect();
        for component in config.components() {
            for called in component.calls() {
                assert!(
                    order.contains(called) && called != &component.name(),
                    "{} calls {called}, which is not another component",
                    component.name()
                );
            }
        }
        assert_eq!(
            order.last(),
            Some(&portal_common::component::names::GATEWAY)
        );
    }

    #[test]
    fn both_lists_hold_the_same_components_in_the_same_order() {
        let mut config = config();
        let names: Vec<_> = config.components().iter().map(|c| c.name()).collect();
        let names_mut: Vec<_> = config.components_mut().iter().map(|c| c.name()).collect();
        assert_eq!(names, names_mut);
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "component names repeat");
    }

    #[test]
    fn components_are_found_by_name_and_unknown_names_listed() {
        let config = config();
        assert_eq!(config.component("record").unwrap().name(), "record");
        let error = config.component("records").unwrap_err().to_string();
        assert!(error.contains("notification, record, identity"), "{error}");
    }

    #[test]
    fn the_gateway_alone_is_public() {
        let config = config();
        let public: Vec<_> = config
            .components()
            .iter()
            .filter(|c| c.public())
            .map(|c| c.name())
            .collect();
        assert_eq!(public, ["gateway"]);
    }
}
