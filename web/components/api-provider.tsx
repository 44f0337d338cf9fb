"use client";
/** Provides one API client and one React Query cache to the signed-in part of the app. */

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createContext, useContext, useState, type ReactNode } from "react";

import type { ApiClient } from "@/lib/api";
import { ApiError } from "@/lib/api";
import { createBrowserApiClient } from "@/lib/browser-api";

const ApiContext = createContext<ApiClient | null>(null);

export function useApi(): ApiClient {
  const api = useContext(ApiContext);
  if (api === null) throw new Error("useApi() must be used inside <ApiProvider>");
  return api;
}

function newQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 10_000,
        // Retrying a 4xx never helps; the API client already retried a 401 once.
        retry: (failures, error) =>
          !(error instanceof ApiError && error.status >= 400 && error.status < 500) && failures < 2,
      },
    },
  });
}

export function ApiProvider({ apiUrl, children }: { apiUrl: string; children: ReactNode }) {
  const [api] = useState(() => createBrowserApiClient(apiUrl));
  const [queryClient] = useState(newQueryClient);
  return (
    <ApiContext.Provider value={api}>
      <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
    </ApiContext.Provider>
  );
}
