//! Commands for the apps the user or the agent wrote: opening one, giving its window an
//! input, answering what it asks to be granted, removing it.

use super::{existing, layout, Rejection};
use crate::app_kind::AppKind;
use crate::apps::{AppInput, Capability, MAX_INPUT_TEXT};
use crate::event::EventBody;
use crate::ids::WindowId;
use crate::world::{InstalledApp, World};

/// Characters a host name holds at most.
const MAX_HOST: usize = 253;

pub(super) fn installed<'w>(world: &'w World, name: &str) -> Result<&'w InstalledApp, Rejection> {
    world
        .apps
        .get(name)
        .ok_or_else(|| Rejection::UnknownApp(name.to_owned()))
}

pub(super) fn input(
    world: &World,
    window_id: WindowId,
    input: &AppInput,
) -> Result<Vec<EventBody>, Rejection> {
    let AppKind::App(name) = &existing(&world.desktop, window_id)?.app else {
        return Err(Rejection::NotAnAppWindow(window_id));
    };
    installed(world, name)?;
    if input.text_len() > MAX_INPUT_TEXT {
        return Err(Rejection::BadEvent(format!(
            "an app's input holds at most {MAX_INPUT_TEXT} bytes"
        )));
    }
    Ok(vec![EventBody::AppReceived {
        window_id,
        input: input.clone(),
    }])
}

pub(super) fn answer(
    world: &World,
    name: &str,
    capability: &Capability,
    granted: bool,
) -> Result<Vec<EventBody>, Rejection> {
    let app = installed(world, name)?;
    if let Capability::Http { host } = capability {
        let fine = !host.is_empty()
            && host.len() <= MAX_HOST
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !fine {
            return Err(Rejection::BadEvent(format!("`{host}` is not a host name")));
        }
    }
    if app.answer(capability) == Some(granted) {
        return Ok(Vec::new());
    }
    Ok(vec![EventBody::AppCapabilityAnswered {
        name: name.to_owned(),
        capability: capability.clone(),
        granted,
    }])
}

/// Closes the app's windows (one after the other, each leaving its layout), then removes it.
pub(super) fn remove(world: &World, name: &str) -> Result<Vec<EventBody>, Rejection> {
    installed(world, name)?;
    let mut desktop = world.desktop.clone();
    let mut events = Vec::new();
    let shown: Vec<WindowId> = desktop
        .windows
        .values()
        .filter(|window| window.app == AppKind::App(name.to_owned()))
        .map(|window| window.id)
        .collect();
    for window_id in shown {
        let closed = std::iter::once(EventBody::WindowClosed { window_id })
            .chain(layout::leave(&desktop, window_id, true))
            .collect::<Vec<_>>();
        for event in &closed {
            desktop.apply(event);
        }
        events.extend(closed);
    }
    events.push(EventBody::AppRemoved {
        name: name.to_owned(),
    });
    Ok(events)
}
