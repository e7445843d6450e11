//! The emails the portal sends: a subject, a plain-text and an HTML body for each, kept in
//! `templates/` beside this crate and compiled in. A template names the parameters it needs
//! and carries no personal data beyond them.

use std::collections::BTreeMap;

use dqt_proto::dqt::notification::v1::EmailTemplate;

/// One email, before its parameters are filled in.
pub struct Template {
    /// How the logs and the database name it.
    pub name: &'static str,
    subject: &'static str,
    text: &'static str,
    html: &'static str,
    /// The parameters it needs; no others are accepted.
    pub parameters: &'static [&'static str],
}

/// An email ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

const TEXT_LAYOUT: &str = include_str!("../templates/layout.txt");
const HTML_LAYOUT: &str = include_str!("../templates/layout.html");

const TEMPLATES: [(EmailTemplate, Template); 12] = [
    (
        EmailTemplate::VerificationCode,
        Template {
            name: "verification_code",
            subject: "Your security code for your teaching record",
            text: include_str!("../templates/verification_code.txt"),
            html: include_str!("../templates/verification_code.html"),
            parameters: &["code"],
        },
    ),
    (
        EmailTemplate::EmailChangeCode,
        Template {
            name: "email_change_code",
            subject: "Confirm your new email address for your teaching record",
            text: include_str!("../templates/email_change_code.txt"),
            html: include_str!("../templates/email_change_code.html"),
            parameters: &["code"],
        },
    ),
    (
        EmailTemplate::EmailChanged,
        Template {
            name: "email_changed",
            subject: "The email address on your teaching record has changed",
            text: include_str!("../templates/email_changed.txt"),
            html: include_str!("../templates/email_changed.html"),
            parameters: &[],
        },
    ),
    (
        EmailTemplate::ChangeRequestApproved,
        Template {
            name: "change_request_approved",
            subject: "Your change to your teaching record has been approved",
            text: include_str!("../templates/change_request_approved.txt"),
            html: include_str!("../templates/change_request_approved.html"),
            parameters: &["change"],
        },
    ),
    (
        EmailTemplate::ChangeRequestRejected,
        Template {
            name: "change_request_rejected",
            subject: "Your change to your teaching record has not been approved",
            text: include_str!("../templates/change_request_rejected.txt"),
            html: include_str!("../templates/change_request_rejected.html"),
            parameters: &["change", "reason"],
        },
    ),
    (
        EmailTemplate::StatusAwarded,
        Template {
            name: "status_awarded",
            subject: "A status has been added to your teaching record",
            text: include_str!("../templates/status_awarded.txt"),
            html: include_str!("../templates/status_awarded.html"),
            parameters: &["status", "awarded_date"],
        },
    ),
    (
        EmailTemplate::InductionPassed,
        Template {
            name: "induction_passed",
            subject: "You have passed your induction",
            text: include_str!("../templates/induction_passed.txt"),
            html: include_str!("../templates/induction_passed.html"),
            parameters: &["completed_date"],
        },
    ),
    (
        EmailTemplate::InductionFailed,
        Template {
            name: "induction_failed",
            subject: "The outcome of your induction has been recorded",
            text: include_str!("../templates/induction_failed.txt"),
            html: include_str!("../templates/induction_failed.html"),
            parameters: &["completed_date"],
        },
    ),
    (
        EmailTemplate::TrnFound,
        Template {
            name: "trn_found",
            subject: "Your teacher reference number (TRN)",
            text: include_str!("../templates/trn_found.txt"),
            html: include_str!("../templates/trn_found.html"),
            parameters: &["trn"],
        },
    ),
    (
        EmailTemplate::TrnSentElsewhere,
        Template {
            name: "trn_sent_elsewhere",
            subject: "Your TRN was sent to another email address",
            text: include_str!("../templates/trn_sent_elsewhere.txt"),
            html: include_str!("../templates/trn_sent_elsewhere.html"),
            parameters: &["email_hint"],
        },
    ),
    (
        EmailTemplate::TrnCaseOpened,
        Template {
            name: "trn_case_opened",
            subject: "We are looking for your TRN",
            text: include_str!("../templates/trn_case_opened.txt"),
            html: include_str!("../templates/trn_case_opened.html"),
            parameters: &[],
        },
    ),
    (
        EmailTemplate::TrnNotFound,
        Template {
            name: "trn_not_found",
            subject: "We could not find a TRN for you",
            text: include_str!("../templates/trn_not_found.txt"),
            html: include_str!("../templates/trn_not_found.html"),
            parameters: &[],
        },
    ),
];

impl Template {
    /// The template of an API value; `None` for an unknown or unset one.
    pub fn of(template: EmailTemplate) -> Option<&'static Template> {
        TEMPLATES
            .iter()
            .find(|(t, _)| *t == template)
            .map(|(_, template)| template)
    }

    /// The template stored under `name`.
    pub fn named(name: &str) -> Option<&'static Template> {
        TEMPLATES
            .iter()
            .map(|(_, template)| template)
            .find(|template| template.name == name)
    }

    /// Fills the template in. Parameters were checked when the message was queued, so a
    /// missing one renders empty rather than failing a delivery.
    pub fn render(&self, parameters: &BTreeMap<String, String>) -> Rendered {
        let text = fill(self.text.trim_end(), parameters, |v| v.to_owned());
        let html = fill(self.html.trim_end(), parameters, escape_html);
        let subject = self.subject.to_owned();
        Rendered {
            text: fill(
                TEXT_LAYOUT,
                &BTreeMap::from([("content".into(), text)]),
                |v| v.to_owned(),
            ),
            html: fill(
                HTML_LAYOUT,
                &BTreeMap::from([
                    ("content".into(), html),
                    ("subject".into(), escape_html(&subject)),
                ]),
                |v| v.to_owned(),
            ),
            subject,
        }
    }
}

/// `body` with every `{{name}}` replaced by its parameter, passed through `encode`.
fn fill(
    body: &str,
    parameters: &BTreeMap<String, String>,
    encode: impl Fn(&str) -> String,
) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                out.push_str(&encode(parameters.get(name).map_or("", String::as_str)));
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_its_parameters_in_both_bodies_and_leaves_no_placeholder() {
        for (api, template) in &TEMPLATES {
            assert_eq!(Template::of(*api).map(|t| t.name), Some(template.name));
            assert_eq!(
                Template::named(template.name).map(|t| t.name),
                Some(template.name)
            );
            let parameters: BTreeMap<String, String> = template
                .parameters
                .iter()
                .map(|p| ((*p).to_owned(), "<123456>".to_owned()))
                .collect();
            let rendered = template.render(&parameters);
            for body in [&rendered.text, &rendered.html] {
                assert!(
                    !body.contains("{{"),
                    "{}: a placeholder is left",
                    template.name
                );
                assert!(body.contains("Department for Education"));
            }
            if !template.parameters.is_empty() {
                assert!(rendered.text.contains("<123456>"));
                assert!(rendered.html.contains("&lt;123456&gt;"), "HTML is escaped");
                assert!(!rendered.html.contains("<123456>"));
            }
            assert!(rendered.html.contains(&rendered.subject));
        }
        assert!(Template::of(EmailTemplate::Unspecified).is_none());
    }

    #[test]
    fn placeholders_fill_from_parameters_only() {
        let parameters = BTreeMap::from([("code".to_owned(), "042042".to_owned())]);
        assert_eq!(
            fill("a {{ code }} b {{other}} c {{open", &parameters, |v| v
                .to_owned()),
            "a 042042 b  c {{open"
        );
    }
}
