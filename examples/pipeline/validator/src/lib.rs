//! The pipeline's validator, written in Rust: it normalises records through the
//! `normalise` import (satisfied by the JavaScript normaliser when composed), then checks
//! each one against the sign-up rules.

wit_bindgen::generate!({ path: "../wit", world: "validator" });

use example::pipeline::normalise::normalise;
use example::pipeline::types::{FieldError, Rejected, Signup};
use exports::example::pipeline::validate::{Checked, Guest};

struct Component;

impl Guest for Component {
    fn validate(records: Vec<Signup>) -> Checked {
        let records = normalise(&records);
        let mut accepted = Vec::new();
        let mut rejected = Vec::new();
        for (index, record) in records.into_iter().enumerate() {
            let errors = check(&record);
            if errors.is_empty() {
                accepted.push(record);
            } else {
                rejected.push(Rejected {
                    index: index as u32,
                    errors,
                });
            }
        }
        Checked { accepted, rejected }
    }
}

fn check(r: &Signup) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: String| {
        errors.push(FieldError {
            field: field.to_string(),
            message,
        })
    };
    if let Err(why) = check_email(&r.email) {
        fail("email", why);
    }
    let name_len = r.name.chars().count();
    if name_len == 0 {
        fail("name", "is empty".to_string());
    } else if name_len > 100 {
        fail("name", format!("has {name_len} characters; at most 100 are allowed"));
    } else if r.name.chars().any(char::is_control) {
        fail("name", "contains control characters".to_string());
    }
    if r.age < 13 {
        fail("age", format!("is {}; sign-ups must be at least 13", r.age));
    } else if r.age > 130 {
        fail("age", format!("is {}; that is not a plausible age", r.age));
    }
    if !COUNTRIES.split(' ').any(|c| c == r.country) {
        fail(
            "country",
            format!("`{}` is not an ISO 3166-1 alpha-2 country code", r.country),
        );
    }
    errors
}

fn check_email(email: &str) -> Result<(), String> {
    if email.len() > 254 {
        return Err("is longer than 254 characters".to_string());
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(format!("`{email}` has no `@`"));
    };
    if local.is_empty() || local.len() > 64 {
        return Err(format!("`{email}`: the part before `@` must have 1 to 64 characters"));
    }
    if local.contains('@') || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{email}` contains a space or a second `@`"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels.iter().any(|l| {
            l.is_empty()
                || l.len() > 63
                || l.starts_with('-')
                || l.ends_with('-')
                || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
    {
        return Err(format!("`{domain}` is not a valid domain name"));
    }
    Ok(())
}

/// ISO 3166-1 alpha-2 codes.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ \
BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ \
DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT \
GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY \
KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX \
MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS \
RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN \
TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

export!(Component);
