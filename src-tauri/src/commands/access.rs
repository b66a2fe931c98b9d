use desk_core::unix_now;
use desk_runtime::AccessStatus;
use tauri::State;
use wxpay::Fen;

use crate::error::{ErrorCode, IpcError, IpcResult};
use crate::state::AppState;

#[tauri::command]
pub async fn unlock(state: State<'_, AppState>, pin: String) -> IpcResult<AccessStatus> {
    Ok(state.access.unlock(&pin, unix_now())?)
}

#[tauri::command]
pub async fn lock(state: State<'_, AppState>) -> IpcResult<AccessStatus> {
    state.access.lock();
    Ok(state.access.status(unix_now()))
}

/// Sets, changes or (with no `new_pin`) removes the owner PIN; saved hashed in config.toml.
#[tauri::command]
pub async fn change_pin(
    state: State<'_, AppState>,
    current_pin: Option<String>,
    new_pin: Option<String>,
) -> IpcResult<AccessStatus> {
    let now = unix_now();
    let access = state
        .access
        .pin_change(current_pin.as_deref(), new_pin.as_deref(), now)?;
    save(&state, |config| config.access = access, now)
}

/// Approvals above `amount` fen ask for the PIN every time (`None`: never).
#[tauri::command]
pub async fn set_always_ask_above(
    state: State<'_, AppState>,
    amount: Option<i64>,
) -> IpcResult<AccessStatus> {
    if amount.is_some_and(|fen| fen < 0) {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            "the amount must not be negative",
        ));
    }
    let now = unix_now();
    let access = state.access.always_ask_change(amount.map(Fen::new), now)?;
    save(&state, |config| config.access = access, now)
}

/// Staff (anyone without the PIN) may approve refunds up to `amount` fen (`None`: staff are
/// read-only). The owner's to change.
#[tauri::command]
pub async fn set_staff_limit(
    state: State<'_, AppState>,
    amount: Option<i64>,
    pin: Option<String>,
) -> IpcResult<AccessStatus> {
    if amount.is_some_and(|fen| fen <= 0) {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            "the staff limit must be a positive amount",
        ));
    }
    let now = unix_now();
    state.access.require_owner(pin.as_deref(), now)?;
    save(
        &state,
        |config| config.refunds.staff_limit_fen = amount,
        now,
    )
}

/// Saves a change of who may do what to config.toml, then lets the door take it: memory and
/// the file never disagree.
fn save(
    state: &AppState,
    change: impl FnOnce(&mut desk_runtime::Config),
    now: i64,
) -> IpcResult<AccessStatus> {
    let saved = state.update_config(change)?;
    state.access.apply(&saved, now)?;
    Ok(state.access.status(now))
}
