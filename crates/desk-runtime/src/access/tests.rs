#![allow(clippy::unwrap_used)]
use super::*;

const PIN: &str = "246813";

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn access(&self, pin: Option<&str>, above: Option<i64>, staff: Option<i64>) -> Access {
        Access::new(
            AccessConfig {
                pin: pin.map(hash_unchecked),
                always_ask_above_fen: above,
            },
            staff,
            self.dir.path(),
        )
    }
}

fn config(access: AccessConfig, staff: Option<i64>) -> crate::Config {
    let mut config = crate::Config::new();
    config.access = access;
    config.refunds.staff_limit_fen = staff;
    config
}

#[test]
fn without_a_pin_everyone_is_the_owner() {
    let fixture = Fixture::new();
    let access = fixture.access(None, None, None);
    assert!(access.status(0).owner);
    access.require_owner(None, 0).unwrap();
    assert_eq!(
        access.authorize_approval(Fen::new(1_000_000), Claim::Owner { pin: None }, 0),
        Ok(Authority::Owner)
    );
    assert_eq!(access.claim_at_window(None, 0), Claim::Owner { pin: None });
}

#[test]
fn a_pin_locks_until_unlocked_and_the_unlock_expires() {
    let fixture = Fixture::new();
    let access = fixture.access(Some(PIN), None, None);
    assert_eq!(access.require_owner(None, 0), Err(AccessError::Locked));
    assert_eq!(access.unlock("111111", 0), Err(AccessError::WrongPin));
    let status = access.unlock(PIN, 100).unwrap();
    assert!(status.owner);
    assert_eq!(status.unlocked_until, Some(100 + UNLOCK_SECS));
    access.require_owner(None, 200).unwrap();
    // Use keeps it open; idleness closes it.
    assert!(access.status(200 + UNLOCK_SECS - 1).owner);
    assert!(!access.status(200 + UNLOCK_SECS).owner);
    access.lock();
    assert_eq!(access.require_owner(None, 201), Err(AccessError::Locked));
    assert_eq!(access.claim_at_window(None, 201), Claim::Staff);
}

#[test]
fn large_amounts_ask_for_the_pin_even_when_unlocked() {
    let fixture = Fixture::new();
    let access = fixture.access(Some(PIN), Some(50_000), None);
    access.unlock(PIN, 0).unwrap();
    let owner = Claim::Owner { pin: None };
    assert_eq!(
        access.authorize_approval(Fen::new(50_000), owner, 1),
        Ok(Authority::Owner)
    );
    assert_eq!(
        access.authorize_approval(Fen::new(50_001), owner, 1),
        Err(AccessError::PinForAmount {
            amount: Fen::new(50_001)
        })
    );
    assert_eq!(
        access.authorize_approval(
            Fen::new(50_001),
            Claim::Owner {
                pin: Some("135791")
            },
            1
        ),
        Err(AccessError::WrongPin)
    );
    assert_eq!(
        access.authorize_approval(Fen::new(50_001), Claim::Owner { pin: Some(PIN) }, 1),
        Ok(Authority::Owner)
    );
}

#[test]
fn staff_approve_only_what_the_owner_granted() {
    let fixture = Fixture::new();
    // A PIN and no staff limit: staff are read-only.
    let access = fixture.access(Some(PIN), None, None);
    assert_eq!(
        access.authorize_approval(Fen::new(1), Claim::Staff, 0),
        Err(AccessError::Locked)
    );
    // A staff limit: up to it without the PIN, above it the owner.
    let access = fixture.access(Some(PIN), None, Some(5_000));
    assert_eq!(
        access.authorize_approval(Fen::new(5_000), Claim::Staff, 0),
        Ok(Authority::Staff {
            limit: Some(Fen::new(5_000))
        })
    );
    assert_eq!(
        access.authorize_approval(Fen::new(5_001), Claim::Staff, 0),
        Err(AccessError::AboveStaffLimit {
            amount: Fen::new(5_001),
            limit: Fen::new(5_000)
        })
    );
    // The always-ask amount binds staff too.
    let access = fixture.access(Some(PIN), Some(3_000), Some(5_000));
    assert_eq!(
        access.authorize_batch(Fen::new(9_999), Claim::Staff, 0),
        Ok(Authority::Staff {
            limit: Some(Fen::new(3_000))
        })
    );
    // An owner's claim without the PIN is not taken on trust.
    assert_eq!(
        access.authorize_approval(Fen::new(1), Claim::Owner { pin: None }, 0),
        Err(AccessError::Locked)
    );
}

#[test]
fn wrong_pins_are_counted_across_doors_and_restarts() {
    let fixture = Fixture::new();
    for _ in 0..FREE_ATTEMPTS {
        // A new door each time, as each CLI process is.
        let access = fixture.access(Some(PIN), None, None);
        assert_eq!(access.unlock("000000", 10), Err(AccessError::WrongPin));
    }
    let window = fixture.access(Some(PIN), None, None);
    assert_eq!(
        window.unlock(PIN, 11),
        Err(AccessError::TooManyAttempts { wait_secs: 29 })
    );
    assert_eq!(window.status(11).pin_wait_secs, Some(29));
    assert_eq!(
        window.require_owner(Some(PIN), 11),
        Err(AccessError::TooManyAttempts { wait_secs: 29 })
    );
    window.unlock(PIN, 40).unwrap();
    assert_eq!(window.status(40).pin_wait_secs, None);
}

#[test]
fn an_old_short_pin_still_opens_and_asks_to_be_changed() {
    let fixture = Fixture::new();
    let access = fixture.access(Some("2468"), None, None);
    assert!(
        !access.status(0).pin_too_short,
        "not known before it is typed"
    );
    access.unlock("2468", 0).unwrap();
    assert!(access.status(0).pin_too_short);
    // A restart remembers it.
    assert!(
        fixture
            .access(Some("2468"), None, None)
            .status(1)
            .pin_too_short
    );
    assert_eq!(
        access.pin_change(Some("2468"), Some("1357"), 1),
        Err(AccessError::PinFormat)
    );
    let changed = access.pin_change(Some("2468"), Some(PIN), 1).unwrap();
    access.apply(&config(changed, None), 1).unwrap();
    assert!(!access.status(1).pin_too_short);
}

#[test]
fn changing_the_pin_needs_the_current_one_and_takes_effect_when_applied() {
    let fixture = Fixture::new();
    let access = fixture.access(Some(PIN), Some(500), None);
    assert_eq!(
        access.pin_change(Some("000000"), Some("135791"), 0),
        Err(AccessError::WrongPin)
    );
    let changed = access.pin_change(Some(PIN), Some("135791"), 0).unwrap();
    assert!(pin::matches(changed.pin.as_deref().unwrap(), "135791"));
    assert_eq!(changed.always_ask_above_fen, Some(500));
    // Not yet applied: the old PIN still opens the door.
    access.unlock(PIN, 1).unwrap();
    access.lock();
    access.apply(&config(changed, None), 2).unwrap();
    assert!(
        access.status(2).owner,
        "whoever set the PIN stays the owner"
    );
    assert_eq!(access.unlock(PIN, 3), Err(AccessError::WrongPin));
    access.unlock("135791", 3).unwrap();
    let removed = access.pin_change(Some("135791"), None, 4).unwrap();
    access.apply(&config(removed, None), 4).unwrap();
    assert_eq!(access.status(4).unlocked_until, None);
    assert!(access.status(4).owner);
}

#[test]
fn the_always_ask_amount_is_the_owners_to_change() {
    let fixture = Fixture::new();
    let access = fixture.access(Some(PIN), None, None);
    assert_eq!(
        access.always_ask_change(Some(Fen::new(1_000)), 0),
        Err(AccessError::Locked)
    );
    access.unlock(PIN, 0).unwrap();
    let changed = access.always_ask_change(Some(Fen::new(1_000)), 1).unwrap();
    access.apply(&config(changed, Some(300)), 1).unwrap();
    let status = access.status(1);
    assert_eq!(status.always_ask_above_fen, Some(1_000));
    assert_eq!(status.staff_limit_fen, Some(300));
    assert!(status.owner, "the same PIN keeps the unlock");
}
