//! What a client may read beyond its welcome, for the `query` frame and the HTTP routes
//! alike: a page of a thread, a document with its text (now or at a past version), a past
//! moment. Each takes the reader's *floor*, the seq of the first event it may see (1 for the
//! owner; a share's beginning for a share): nothing from before it is answered.

use axum::http::StatusCode;
use choir_proto::{
    Doc, DocId, ErrorCode, Moment, Query, Reply, Seek, ThreadId, ThreadPage, MAX_PAGE,
};

use super::error::ApiError;
use super::AppState;

/// The thread's messages before `before` (the latest without it), at most `limit`, none from
/// before `floor`.
pub(super) async fn thread_page(
    state: &AppState,
    thread_id: ThreadId,
    before: Option<u64>,
    limit: u32,
    floor: u64,
) -> Result<ThreadPage, ApiError> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidCommand,
            format!("limit must be 1 to {MAX_PAGE}"),
        ));
    }
    let known = state
        .world
        .query(move |world| world.chats.contains_key(&thread_id))
        .await?;
    if !known {
        return Err(not_found(format!("no thread {thread_id}")));
    }
    let before = before.unwrap_or(u64::MAX);
    if before <= floor {
        return Ok(ThreadPage {
            thread_id,
            messages: Vec::new(),
            tools: Vec::new(),
            more: false,
        });
    }
    let mut page = state
        .store
        .thread_page(thread_id, before, limit as usize)
        .await
        .map_err(ApiError::internal)?;
    if floor > 1 {
        let held = page.messages.len();
        page.messages.retain(|message| message.seq >= floor);
        page.tools
            .retain(|card| !card.is_finished() || card.seq >= floor);
        if page.messages.len() < held {
            page.more = false;
        }
    }
    Ok(page)
}

/// The world right after the event `at` names, for a reader who may see from `floor` on: a
/// moment before it is the one at its beginning, and shows nothing from before it.
pub(super) async fn moment(state: &AppState, asked: Seek, floor: u64) -> Result<Moment, ApiError> {
    let at = asked;
    let at = if floor > 1 {
        let seq = state.past.resolve(at).await.map_err(ApiError::internal)?;
        Seek::Seq {
            seq: seq.max(floor - 1),
        }
    } else {
        at
    };
    let mut moment = state.past.moment(at).await.map_err(ApiError::internal)?;
    if floor > 1 {
        moment.world = Box::new(std::mem::take(&mut *moment.world).since(floor));
    }
    // The seek asked for, not the one a share's floor made of it.
    moment.at = Some(asked);
    Ok(moment)
}

/// The document with its text.
pub(super) async fn doc(state: &AppState, doc_id: DocId) -> Result<Doc, ApiError> {
    state
        .world
        .doc(doc_id)
        .await?
        .ok_or_else(|| not_found(format!("no document {doc_id}")))
}

/// Answers a `query` frame from a reader who may see from `floor` on.
pub(super) async fn answer(state: &AppState, query: Query, floor: u64) -> Result<Reply, ApiError> {
    Ok(match query {
        Query::ThreadMessages {
            thread_id,
            before,
            limit,
        } => Reply::ThreadMessages {
            page: thread_page(state, thread_id, before, limit, floor).await?,
        },
        Query::Doc { doc_id } => Reply::Doc {
            doc: doc(state, doc_id).await?,
        },
        Query::DocAt { seq, .. } if seq + 1 < floor => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Unauthorized,
                format!("this share shows only what happened since it was made (seq {floor} on)"),
            ));
        }
        Query::DocAt {
            doc_id,
            version,
            seq,
        } => Reply::Doc {
            doc: doc_at(state, doc_id, version, seq).await?,
        },
        Query::Moment { at } => Reply::Moment {
            moment: moment(state, at, floor).await?,
        },
    })
}

/// The document with its text as it was at `version` (and no recent edits). Read apart from
/// the world actor: a document's long history read back holds up no one's commands.
async fn doc_at(state: &AppState, doc_id: DocId, version: u64, seq: u64) -> Result<Doc, ApiError> {
    let missing = || not_found(format!("no version {version} of document {doc_id}"));
    let meta = state
        .world
        .query(move |world| world.docs.get(&doc_id).map(Doc::summary))
        .await?
        .ok_or_else(missing)?;
    let text = state
        .past
        .doc_text(&meta, version, seq)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(missing)?;
    let mut doc = Doc::new(doc_id, "", &text, 0);
    doc.version = version;
    Ok(doc)
}

fn not_found(message: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
}
