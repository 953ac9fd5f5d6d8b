//! The store traits, one per aggregate, and their implementation for every
//! [`UnitOfWork`] store.

use std::future::Future;

use super::{
    Page, PageRequest, Query, Record, RecordId, StoreError, Transaction, UnitOfWork, page_in,
};
use crate::domain::{
    InvitationId, ResponseId, Survey, SurveyId, SurveyInvitation, SurveyResponse, Version,
    Versioned,
};

pub(crate) fn get_or_not_found<I: RecordId, X: Transaction>(
    tx: &mut X,
    id: I,
) -> Result<Versioned<I::Record>, StoreError> {
    tx.get(id)?.ok_or_else(|| StoreError::NotFound {
        kind: I::Record::KIND,
        id: id.to_string(),
    })
}

/// Declares the standard operations of one record kind in a store trait,
/// and implements them for every [`UnitOfWork`] store.
macro_rules! ops {
    (@decl $R:ty, $Id:ty, create $create:ident) => {
        #[doc = concat!("Stores a new `", stringify!($R), "` at [`Version::FIRST`].")]
        ///
        /// # Errors
        /// [`StoreError::AlreadyExists`] if its id is taken.
        fn $create(&self, record: $R) -> impl Future<Output = Result<Versioned<$R>, StoreError>> + Send;
    };
    (@decl $R:ty, $Id:ty, get $get:ident) => {
        #[doc = concat!("The stored `", stringify!($R), "` with this id.")]
        ///
        /// # Errors
        /// [`StoreError::NotFound`].
        fn $get(&self, id: $Id) -> impl Future<Output = Result<Versioned<$R>, StoreError>> + Send;
    };
    (@decl $R:ty, $Id:ty, update $update:ident) => {
        #[doc = concat!("Replaces a stored `", stringify!($R), "` if its stored version is `expected`; returns it at the next version.")]
        ///
        /// # Errors
        /// [`StoreError::Conflict`] (naming both versions) when someone else
        /// changed it since `expected`, [`StoreError::NotFound`].
        fn $update(&self, record: $R, expected: Version) -> impl Future<Output = Result<Versioned<$R>, StoreError>> + Send;
    };
    (@decl $R:ty, $Id:ty, delete $delete:ident) => {
        #[doc = concat!("Deletes a stored `", stringify!($R), "` if its stored version is `expected`.")]
        ///
        /// # Errors
        /// [`StoreError::Conflict`], [`StoreError::NotFound`].
        fn $delete(&self, id: $Id, expected: Version) -> impl Future<Output = Result<(), StoreError>> + Send;
    };
    (@decl $R:ty, $Id:ty, bulk $bulk:ident) => {
        #[doc = concat!("Stores many new `", stringify!($R), "`s at [`Version::FIRST`], all or none; returns how many.")]
        ///
        /// # Errors
        /// [`StoreError::AlreadyExists`] (nothing is stored then).
        fn $bulk(&self, records: Vec<$R>) -> impl Future<Output = Result<usize, StoreError>> + Send;
    };
    (@decl $R:ty, $Id:ty, list $list:ident) => {
        #[doc = concat!("One page of the `", stringify!($R), "`s matching `query`, in [`Key`](super::Key) order.")]
        ///
        /// # Errors
        /// [`StoreError::InvalidCursor`] for a cursor of another query or
        /// store handle.
        fn $list(&self, query: Query, page: PageRequest) -> impl Future<Output = Result<Page<Versioned<$R>>, StoreError>> + Send;
    };

    (@impl $R:ty, $Id:ty, create $create:ident) => {
        fn $create(&self, record: $R) -> impl Future<Output = Result<Versioned<$R>, StoreError>> + Send {
            self.transaction(move |tx| tx.insert(record))
        }
    };
    (@impl $R:ty, $Id:ty, get $get:ident) => {
        fn $get(&self, id: $Id) -> impl Future<Output = Result<Versioned<$R>, StoreError>> + Send {
            self.transaction(move |tx| get_or_not_found(tx, id))
        }
    };
    (@impl $R:ty, $Id:ty, update $update:ident) => {
        fn $update(&self, record: $R, expected: Version) -> impl Future<Output = Result<Versioned<$R>, StoreError>> + Send {
            self.transaction(move |tx| tx.update(record, expected))
        }
    };
    (@impl $R:ty, $Id:ty, delete $delete:ident) => {
        fn $delete(&self, id: $Id, expected: Version) -> impl Future<Output = Result<(), StoreError>> + Send {
            self.transaction(move |tx| tx.delete(id, Some(expected)))
        }
    };
    (@impl $R:ty, $Id:ty, bulk $bulk:ident) => {
        fn $bulk(&self, records: Vec<$R>) -> impl Future<Output = Result<usize, StoreError>> + Send {
            self.transaction(move |tx| super::insert_all(tx, records))
        }
    };
    (@impl $R:ty, $Id:ty, list $list:ident) => {
        fn $list(&self, query: Query, page: PageRequest) -> impl Future<Output = Result<Page<Versioned<$R>>, StoreError>> + Send {
            let cursors = self.cursors().clone();
            self.transaction(move |tx| page_in::<$R, _>(tx, &cursors, &query, &page))
        }
    };
}

macro_rules! store_trait {
    (
        $(#[$meta:meta])*
        pub trait $Trait:ident {
            $( $R:ty, $Id:ty => { $($op:ident $name:ident),* $(,)? } )*
        }
        extra { $($extra_decl:tt)* }
        impl { $($extra_impl:tt)* }
    ) => {
        $(#[$meta])*
        pub trait $Trait: Send + Sync {
            $( $( ops!(@decl $R, $Id, $op $name); )* )*
            $($extra_decl)*
        }

        impl<S: UnitOfWork> $Trait for S {
            $( $( ops!(@impl $R, $Id, $op $name); )* )*
            $($extra_impl)*
        }
    };
}

store_trait! {
    /// Surveys, their invitations and their responses.
    ///
    /// Surveys are mutable (name and question); invitations and responses
    /// are facts: they are created, listed, erased and re-pointed by a
    /// customer merge, never updated. Listings take any [`Query`]: by
    /// survey, by customer, by time range (the invitation's `sent_at`, the
    /// response's `responded_at`) or by segment (at the time of the
    /// response).
    ///
    /// Implemented for every [`UnitOfWork`] store; see the [module
    /// contract](super#contract).
    pub trait SurveyStore {
        Survey, SurveyId => {
            create create_survey, get get_survey, update update_survey,
            delete delete_survey, bulk insert_surveys, list surveys
        }
        SurveyInvitation, InvitationId => {
            create record_invitation, get get_invitation, delete delete_invitation,
            bulk insert_invitations, list invitations
        }
        SurveyResponse, ResponseId => {
            create record_response, get get_response, delete delete_response,
            bulk insert_responses, list responses
        }
    }
    extra {}
    impl {}
}
